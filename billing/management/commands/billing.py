"""Finance from the command line: ``manage.py billing SUBCOMMAND``, no running service needed.

Subcommands (``--help`` on each): ``add-account``, ``top-up``, ``claim-free``,
``buy-package``, ``buy-qps``, ``import-usage`` and ``bill``. ACCOUNT is the account's
name. DATETIME is ISO 8601; without an offset it is Asia/Shanghai time
(``2024-03-01T10:00`` is 10:00 in Shanghai; ``2024-03-01`` its midnight).

Exit codes: 0 done; 1 refused by the vendor's rules (the reason on stderr); 2 bad input
(unknown account, malformed month, amount, time or file).
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from billing import bills, importer, plans, purchases
from billing.pricing import PricingError
from billing.pricing.calendar import parse_month, shanghai_text
from monitoring.models import VendorAccount

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


def _bad(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_BAD_INPUT)


def _refused(error: Exception) -> CommandError:
    return CommandError(f"Refused: {error}", returncode=EXIT_REFUSED)


def _whole_number(text: str) -> int:
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise ValueError(f"not a whole number: {text!r}") from None
    return value


_whole_number.__name__ = "whole number"


class _Raw:
    """The command's stderr without the newline Django adds to every write."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")

    def flush(self) -> None:
        self.wrapper.flush()

    def isatty(self) -> bool:
        return self.wrapper.isatty()


class Command(BaseCommand):
    help = (
        "Billing of vendor accounts: add an account, record top-ups, packages and QPS "
        "orders, import usage, print a month's bill. DATETIME is ISO 8601; without an "
        "offset it is Asia/Shanghai time."
    )

    def add_arguments(self, parser):
        commands = parser.add_subparsers(
            dest="subcommand", required=True, metavar="SUBCOMMAND", title="subcommands"
        )

        add = commands.add_parser(
            "add-account",
            help="Add a Baidu or CTYun account.",
            description="Add a Baidu or CTYun account to bill. Credentials are optional: "
            "without them usage can be imported and purchases recorded, but the account "
            "cannot be called.",
        )
        add.add_argument("name", metavar="NAME")
        add.add_argument("--vendor", required=True, choices=plans.BILLED_VENDORS)
        add.add_argument("--certification", required=True, choices=purchases.CERTIFICATIONS)
        add.add_argument(
            "--free-claimed-at",
            metavar="DATETIME",
            help="When the free quota was claimed in the vendor's console.",
        )
        add.add_argument("--base-url", metavar="URL", help="Default: the vendor's address.")
        add.add_argument("--ak", metavar="AK", help="Baidu API Key / CTYun AccessKey.")
        add.add_argument("--sk", metavar="SK", help="Baidu Secret Key / CTYun SecurityKey.")
        add.add_argument("--appkey", metavar="KEY", help="CTYun AppKey.")

        top_up = commands.add_parser(
            "top-up",
            help="Record money paid into an account.",
            description="Record money paid into the vendor account.",
        )
        top_up.add_argument("account", metavar="ACCOUNT")
        top_up.add_argument("--amount", required=True, metavar="CNY", help="e.g. 1000.00")
        top_up.add_argument("--at", required=True, metavar="DATETIME")

        claim = commands.add_parser(
            "claim-free",
            help="Record a free quota claimed, per API.",
            description="Record the free quota of one or more APIs claimed in the vendor's "
            "console: Baidu once per API, valid 365 days from its claim; CTYun once per "
            "API (helmet, workwear, fence) per calendar year. Without --api: every API.",
        )
        claim.add_argument("account", metavar="ACCOUNT")
        claim.add_argument(
            "--api", action="append", default=[], metavar="API", help="Repeat for several."
        )
        claim.add_argument("--at", required=True, metavar="DATETIME")

        package = commands.add_parser(
            "buy-package",
            help="Record a count package bought.",
            description="Record a count package bought: Baidu driver_behavior or "
            "hand_analysis, CTYun helmet, workwear or fence, in a size on sale.",
        )
        package.add_argument("account", metavar="ACCOUNT")
        package.add_argument("--api", required=True, metavar="API")
        package.add_argument(
            "--spec", required=True, type=_whole_number, metavar="CALLS", help="e.g. 300000"
        )
        package.add_argument("--at", required=True, metavar="DATETIME")

        qps = commands.add_parser(
            "buy-qps",
            help="Record a Baidu QPS order.",
            description="Record a Baidu QPS order (body_analysis, body_attr, body_num, "
            "body_seg, gesture). With neither --months nor --days it lasts one month.",
        )
        qps.add_argument("account", metavar="ACCOUNT")
        qps.add_argument("--api", required=True, metavar="API")
        qps.add_argument("--qps", required=True, type=_whole_number, metavar="N")
        qps.add_argument("--months", type=_whole_number, metavar="M")
        qps.add_argument("--days", type=_whole_number, metavar="D")
        qps.add_argument("--at", required=True, metavar="DATETIME")

        usage = commands.add_parser(
            "import-usage",
            help="Import a usage CSV.",
            description="Import a usage CSV with the header timestamp,api,success,"
            "request_id. Request ids already in the ledger are skipped; a bad row stops "
            "the import and nothing of the file is imported.",
        )
        usage.add_argument("account", metavar="ACCOUNT")
        usage.add_argument("file", metavar="FILE")

        bill = commands.add_parser(
            "bill",
            help="Print a month's bill.",
            description="Print a month's bill: the stored one if final, else computed now.",
        )
        bill.add_argument("account", metavar="ACCOUNT")
        bill.add_argument("--month", required=True, metavar="YYYY-MM")
        bill.add_argument("--json", action="store_true", help="Print the bill as JSON.")

    def handle(self, *args, **options):
        handler = {
            "add-account": self.add_account,
            "top-up": self.top_up,
            "claim-free": self.claim_free,
            "buy-package": self.buy_package,
            "buy-qps": self.buy_qps,
            "import-usage": self.import_usage,
            "bill": self.bill,
        }[options["subcommand"]]
        handler(options)

    # --- input ------------------------------------------------------------------------

    def _account(self, name: str) -> VendorAccount:
        account = VendorAccount.objects.filter(name=name).first()
        if account is None:
            names = list(
                VendorAccount.objects.filter(vendor__in=plans.BILLED_VENDORS).values_list(
                    "name", flat=True
                )
            )
            known = f"; accounts: {', '.join(names)}" if names else "; there is none yet"
            raise _bad(f"No account named {name!r}{known}.")
        try:
            plans.billing_vendor(account)
        except PricingError as error:
            raise _bad(str(error)) from None
        return account

    def _moment(self, text: str | None, what: str):
        if text is None:
            return None
        try:
            return purchases.parse_moment(text, what)
        except PricingError as error:
            raise _bad(str(error)) from None

    # --- subcommands ------------------------------------------------------------------

    def add_account(self, options) -> None:
        claimed = self._moment(options["free_claimed_at"], "free quota claim time")
        try:
            account = purchases.add_account(
                options["name"],
                options["vendor"],
                options["certification"],
                free_claimed_at=claimed,
                base_url=options["base_url"],
                ak=options["ak"],
                sk=options["sk"],
                appkey=options["appkey"],
            )
        except PricingError as error:
            raise _bad(str(error)) from None
        self.stdout.write(
            f"Added {account.vendor} account {account.name!r} (id {account.pk}, "
            f"{account.certification})."
        )

    def top_up(self, options) -> None:
        account = self._account(options["account"])
        try:
            amount = bills.parse_amount(options["amount"], "amount")
        except PricingError as error:
            raise _bad(str(error)) from None
        at = self._moment(options["at"], "top-up time")
        record = purchases.top_up(account, amount, at)
        self.stdout.write(
            f"Recorded a top-up of {record.amount} CNY to {account.name} at {shanghai_text(at)}."
        )

    def claim_free(self, options) -> None:
        account = self._account(options["account"])
        at = self._moment(options["at"], "claim time")
        try:
            claims = purchases.claim_free_quota(account, options["api"], at)
        except PricingError as error:
            raise _refused(error) from None
        apis = ", ".join(claim.api for claim in claims)
        self.stdout.write(f"Recorded the free quota of {apis} claimed at {shanghai_text(at)}.")

    def buy_package(self, options) -> None:
        account = self._account(options["account"])
        at = self._moment(options["at"], "purchase time")
        try:
            package = purchases.buy_package(account, options["api"], options["spec"], at)
        except PricingError as error:
            raise _refused(error) from None
        self.stdout.write(
            f"Bought a {package.calls:,}-call {package.api} package for {package.price} CNY "
            f"at {shanghai_text(package.purchased_at)}, "
            f"valid until {shanghai_text(package.expires_at)}."
        )

    def buy_qps(self, options) -> None:
        account = self._account(options["account"])
        at = self._moment(options["at"], "purchase time")
        months, days = options["months"], options["days"]
        if months is None and days is None:
            months = purchases.DEFAULT_QPS_MONTHS
        try:
            order = purchases.buy_qps(
                account, options["api"], options["qps"], months or 0, days or 0, at
            )
        except PricingError as error:
            raise _refused(error) from None
        self.stdout.write(
            f"Bought {order.qps} QPS of {order.api} for {order.months} month(s) and "
            f"{order.days} day(s) for {order.price} CNY, from {shanghai_text(order.purchased_at)} "
            f"until {shanghai_text(order.expires_at)}."
        )

    def import_usage(self, options) -> None:
        account = self._account(options["account"])
        bar = importer.ProgressBar(_Raw(self.stderr))
        try:
            result = importer.import_usage(account, options["file"], progress=bar)
        except FileNotFoundError:
            raise _bad(f"No such file: {options['file']}") from None
        except (importer.UsageImportError, OSError) as error:
            bar.finish()
            raise _bad(f"Nothing imported: {error}") from None
        bar.finish()
        self.stdout.write(
            f"Imported {result.imported:,} of {result.rows:,} rows into {account.name} "
            f"({result.skipped:,} skipped: request id already in the ledger) "
            f"in {result.seconds:.1f} s."
        )

    def bill(self, options) -> None:
        account = self._account(options["account"])
        try:
            year, month = parse_month(options["month"])
        except PricingError as error:
            raise _bad(str(error)) from None
        view = bills.current_bill(account, year, month)
        if options["json"]:
            self.stdout.write(json.dumps(view.to_dict(), ensure_ascii=False, indent=2))
        else:
            self.stdout.write(render_table(view))


def _amount(text: str) -> str:
    return f"{Decimal(text):,.2f}"


def render_table(view: bills.BillView) -> str:
    """The bill as a plain-text table."""
    data = view.to_dict()
    since = data["plan"]["effective_from"]
    lines = [
        f"Bill of {view.account} ({view.vendor}) for {data['month']}: {view.status}",
        f"Plan: {view.plan_name}" + (f", in force since {since[:10]}" if since else ""),
        "",
        f"{'API':<16} {'Kind':<18} {'Calls':>12} {'Amount (CNY)':>14}  Note",
    ]
    for line in data["lines"]:
        lines.append(
            f"{line['api']:<16} {line['kind']:<18} {line['calls']:>12,} "
            f"{_amount(line['amount']):>14}  {line['note']}"
        )
        for tier in line["tiers"]:
            upper = f"{tier['to']:,}" if tier["to"] is not None else "..."
            lines.append(
                f"{'':<16}   tier {tier['from']:,}-{upper}: {tier['calls']:,} calls at "
                f"{tier['unit_price']} per 1,000 = {tier['amount']}"
            )
    if not data["lines"]:
        lines.append("(no usage and no purchases this month)")
    lines.append(f"{'Lines total':<48} {_amount(data['lines_total']):>14}")
    for adjustment in data["adjustments"]:
        lines.append(
            f"{'Adjustment ' + (adjustment['api'] or ''):<48} "
            f"{_amount(adjustment['amount']):>14}  {adjustment['note']}"
        )
    lines.append(f"{'Total':<48} {_amount(data['total']):>14}")
    if data["late_calls"]:
        late = ", ".join(f"{api} {calls:+,}" for api, calls in data["late_calls"].items())
        lines.append(f"Calls recorded since this bill was finalized: {late}")
    if data["unpriced_calls"]:
        unpriced = ", ".join(f"{api} {calls:,}" for api, calls in data["unpriced_calls"].items())
        lines.append(f"Calls of APIs the plan does not price: {unpriced}")
    return "\n".join(lines)
