"""Project-level security: the AMM operators' group, the `amm_operator` command and admin
login throttling. The project's, not a plugin's: the operator group spans the platform's
(exchange) and the AMM's (amm) permissions, and amm never knows exchange."""
