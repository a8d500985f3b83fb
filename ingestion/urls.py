from django.urls import path

from ingestion import views

app_name = "ingestion"

urlpatterns = [
    path("", views.document_list, name="documents"),
    path("status", views.document_status, name="status"),
    path("<int:pk>/", views.document_detail, name="document"),
    path("<int:pk>/original", views.document_original, name="original"),
    path("<int:pk>/delete", views.document_delete, name="delete"),
    path("<int:pk>/readers", views.document_readers, name="readers"),
    path("<int:pk>/share", views.document_share, name="share"),
    path("<int:pk>/unshare", views.document_unshare, name="unshare"),
    path("shared/dismiss", views.share_notices_dismiss, name="notices-dismiss"),
]
