"""Routes under /services/data/v{NN.N}/ (``version`` comes from the including pattern).

Each path answers with and without its trailing slash; nothing redirects.
"""

from django.urls import re_path

from cadence_site.sfapi import views

OBJECT = r"(?P<sobject>[A-Za-z][A-Za-z0-9_]*)"

urlpatterns = [
    re_path(r"^$", views.ResourcesView.as_view()),
    re_path(r"^sobjects/?$", views.GlobalDescribeView.as_view()),
    re_path(rf"^sobjects/{OBJECT}/?$", views.SObjectView.as_view()),
    re_path(rf"^sobjects/{OBJECT}/describe/?$", views.DescribeView.as_view()),
    re_path(rf"^sobjects/{OBJECT}/updated/?$", views.UpdatedView.as_view()),
    re_path(rf"^sobjects/{OBJECT}/deleted/?$", views.DeletedView.as_view()),
    re_path(rf"^sobjects/{OBJECT}/(?P<record_id>[^/]+)/?$", views.RecordView.as_view()),
    re_path(r"^query/?$", views.QueryView.as_view()),
    re_path(r"^query/(?P<locator>[^/]+)/?$", views.QueryMoreView.as_view()),
    re_path(r"^actions/standard/?$", views.ActionListView.as_view()),
    re_path(r"^actions/standard/(?P<action>[A-Za-z0-9_]+)/?$", views.ActionView.as_view()),
    re_path(r"^.*$", views.UnknownResourceView.as_view()),
]
