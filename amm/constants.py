"""Fixed identities of the AMM (seed §3.1): the same in every environment."""

AMM_USER_ID = "00000000-0000-4000-a000-000000000001"
AMM_USERNAME = "amm_market_maker"
AMM_ALIAS = "AMM_SYSTEM_001"  # human-readable alias only; the platform stores the UUID

# Redis key for the platform's replace rate limit counter, as the platform names it (SPEC §4).
REPLACE_RATELIMIT_KEY = f"ratelimit:{AMM_USER_ID}:replace"

# Reconciliation tolerances (seed §7.3).
RECON_VOLUME_TOLERANCE = 2
RECON_CASH_TOLERANCE_CENTS = 200
RECON_COST_TOLERANCE_CENTS = 500

PROCESSED_SET_MAX = 100_000  # in-process LRU of trade ids (seed §5.3)
PROCESSED_TTL_S = 24 * 3600  # amm:processed:{market_id} TTL (seed App. A)
