"""Usage ledger, vendor pricing, packages, QPS orders, quota gate and bills."""
