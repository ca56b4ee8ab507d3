"""An S3-compatible test server: moto, on 127.0.0.1 only, with signature checking switched on.

moto 5.2 verifies a signature against werkzeug's `request.url`, which werkzeug 3.1 builds with `uri_to_iri`:
that percent-decodes the query (`?prefix=dir%2F` becomes `?prefix=dir/`), so every correctly signed request with
an encoded query would fail with SignatureDoesNotMatch. This launcher keeps `request.url` exactly as the client
sent and signed it.

Usage: python3 moto_s3_server.py PORT
"""
import sys

import werkzeug.sansio.utils

werkzeug.sansio.utils.uri_to_iri = lambda uri: uri  # keep the URL as sent: percent-encoded

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: E402
from werkzeug.serving import run_simple  # noqa: E402

if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=True)
