from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from campaigns import ops
from campaigns.forms import AdminLoginForm, LoginForm

admin.site.site_header = "smcbridge administration"
admin.site.site_title = "smcbridge"
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", ops.healthz, name="healthz"),
    path("sapmc/extcamp/v1/", include("campaigns.api_urls")),
    path("", include("campaigns.urls")),
]
