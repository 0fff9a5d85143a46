"""Suite-wide settings: no machine here reaches the internet, so nothing may try to.

Nothing in the suite speaks TLS either (every server is on loopback, over plain HTTP), so TLS
trusts a single certificate: httpx builds a TLS context from the whole CA bundle for every client
it makes, 15-30 ms of CPU each, and fal_client makes several for each upload; over a suite of fal
jobs that was most of their time. Launched apps inherit the setting with the rest of the
environment.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import certifi

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(proxy, None)


def _one_certificate_bundle() -> Path:
    """The first certificate of certifi's bundle, alone in a file of this session."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    bundle = Path(certifi.where()).read_text()
    first = bundle[bundle.index(begin):bundle.index(end) + len(end)]
    folder = Path(tempfile.mkdtemp(prefix="tls-"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "one.pem").write_text(first + "\n")
    return folder / "one.pem"


os.environ["SSL_CERT_FILE"] = str(_one_certificate_bundle())
os.environ.pop("SSL_CERT_DIR", None)
