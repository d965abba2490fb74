"""Sandbox routes: /sandbox/baidu/... mirrors aip.baidubce.com, /sandbox/ctyun/... mirrors
ai-global.ctapi.ctyun.cn, path for path; /sandbox/baidu-private/<service>/... is a Baidu
private deployment whose services are told apart by path instead of by port."""

from django.urls import path, re_path

from . import baidu, baidu_private, ctyun

app_name = "sandbox"
urlpatterns = [
    path("baidu/oauth/2.0/token", baidu.token, name="baidu-token"),
    path("baidu/rest/2.0/<str:family>/v1/<str:api>", baidu.call_api, name="baidu-api"),
    re_path(r"^baidu/(?P<rest>.*)$", baidu.unknown, name="baidu-unknown"),
    path(
        "baidu-private/<str:service>/GeneralClassifyService/classify",
        baidu_private.classify,
        name="baidu-private-classify",
    ),
    re_path(r"^ctyun/(?P<api_path>.*)$", ctyun.call_api, name="ctyun-api"),
]
