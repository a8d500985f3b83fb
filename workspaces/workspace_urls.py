from django.urls import path

from workspaces import workspace_views as views

app_name = "workspace_admin"

urlpatterns = [
    path("", views.workspace_list, name="list"),
    path("new", views.workspace_create, name="create"),
    path("rename", views.workspace_rename, name="rename"),
    path("archive", views.workspace_archive, name="archive"),
    path("restore", views.workspace_restore, name="restore"),
    path("delete", views.workspace_delete, name="delete"),
]
