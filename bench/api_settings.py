"""Settings of the API benchmark's server: smcbridge's own, plus the limit's URL (bench only)."""

import warnings

from smcbridge.settings import *  # noqa: F403 - the very same settings and middleware

ROOT_URLCONF = "bench.api_urls"
# The benchmark serves JSON only: no collectstatic, so whitenoise's warning about it is noise.
warnings.filterwarnings("ignore", message="No directory at")
