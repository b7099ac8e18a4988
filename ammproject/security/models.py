# No models. The module exists because Django sends post_migrate only to apps that have one,
# and SecurityConfig completes the operators' group on it (apps.py).
