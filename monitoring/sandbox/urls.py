"""Sandbox routes: /sandbox/baidu/... mirrors aip.baidubce.com, /sandbox/ctyun/... mirrors
ai-global.ctapi.ctyun.cn, path for path."""

app_name = "sandbox"
urlpatterns: list = []
