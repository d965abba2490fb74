"""Analysis backends: one client per vendor plus the on-box analyzer.

Each takes image bytes (or a list of frames) and parameters and returns an
``AnalysisResult`` or raises a typed ``BackendError`` (see ``base``).
"""
