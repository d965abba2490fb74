"""Try a backend on image files: ``manage.py analyze IMAGE ... --backend B --api NAME``.

Prints the normalized results as JSON on standard output. One client serves all images
(a Baidu token is fetched once). On a vendor error it exits non-zero and says the
vendor's code and message. It needs no running service.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError

from monitoring.backends.base import BackendError, ClientSettings
from monitoring.backends.registry import BACKENDS, canonical, open_backend, traits

EXIT_VENDOR_ERROR = 1
EXIT_BAD_INPUT = 2


class Command(BaseCommand):
    help = (
        "Run one analysis API of a backend on image files and print the normalized "
        "results as JSON. NAME is the Baidu API's path name (body_attr, body_num, ...) or, "
        "for CTYun, helmet, workwear, fence, face_quality, liveness_<action>, fall, fight."
    )

    def add_arguments(self, parser):
        parser.add_argument("images", nargs="+", metavar="IMAGE", help="Image files.")
        parser.add_argument("--backend", required=True, choices=BACKENDS)
        parser.add_argument("--api", required=True, metavar="NAME")
        parser.add_argument(
            "--area",
            help='Polygon(s) in pixels of the images: "x1,y1,x2,y2,..." (Baidu body_num: '
            'several separated by ";"; CTYun fence: 3 to 9 points).',
        )
        parser.add_argument(
            "--base-url",
            help="Vendor endpoint (default: the vendor's public one; baidu-private: "
            "required, the deployment's host like http://192.168.0.10, or a base with a "
            "path such as http://127.0.0.1:8000/sandbox/baidu-private where the services "
            "are told apart by path).",
        )
        parser.add_argument("--ak", default="", help="Baidu API Key, or CTYun ak.")
        parser.add_argument("--sk", default="", help="Baidu Secret Key, or CTYun sk.")
        parser.add_argument("--appkey", default="", help="CTYun appkey.")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="Another API parameter, e.g. --param type=gender,age (repeatable).",
        )

    def handle(self, *args, images, backend, api, area, base_url, ak, sk, appkey, param, **kw):
        # ``baidu-private`` is the published spelling; ``baidu_private`` works too.
        vendor_traits = traits(canonical(backend))
        if vendor_traits.base_url == "required" and not base_url:
            raise CommandError(f"--base-url is required for {backend}", returncode=2)
        payloads = []
        for name in images:
            path = Path(name)
            try:
                payloads.append(path.read_bytes())
            except OSError as exc:
                raise CommandError(f"cannot read {name}: {exc.strerror}", returncode=2) from exc
        params = {}
        for item in param:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--param {item!r}: write KEY=VALUE", returncode=2)
            params[key] = value
        if area:
            params["area"] = area
        settings = ClientSettings(
            base_url=(base_url or vendor_traits.default_base_url).rstrip("/"),
            api_key=ak,
            secret_key=sk,
            app_key=appkey,
            account=f"cli:{backend}:{ak}",
        )
        try:
            with open_backend(backend, settings, store=cache) as client:
                batches = client.run(api, payloads, params)
        except BackendError as error:
            code = "" if error.code is None else f" {error.code}"
            kind = "vendor error" if error.code is not None else error.kind.replace("_", " ")
            self.stderr.write(f"{backend} {api}: {kind}{code}: {error.message}")
            sys.exit(
                EXIT_BAD_INPUT
                if error.kind in {"invalid_image", "unsupported"} and error.code is None
                else EXIT_VENDOR_ERROR
            )
        output = {
            "backend": backend,
            "api": api,
            "results": [
                {"images": [images[i] for i in batch.images], "result": batch.result.as_dict()}
                for batch in batches
            ],
        }
        self.stdout.write(json.dumps(output, ensure_ascii=False, indent=2, default=str))
