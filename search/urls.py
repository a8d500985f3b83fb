from django.urls import path

from search import views, views_conflicts

app_name = "search"

urlpatterns = [
    path("", views.ask, name="ask"),
    path("stream", views.ask_stream, name="ask-stream"),
    path("review", views.review, name="review"),
    path("conflicts", views_conflicts.conflicts, name="conflicts"),
    path("shared/<str:token>", views.shared, name="shared"),
    path("conversations/<int:pk>/rename", views.conversation_rename, name="conversation-rename"),
    path("conversations/<int:pk>/share", views.conversation_share, name="conversation-share"),
    path("conversations/<int:pk>/delete", views.conversation_delete, name="conversation-delete"),
    path("conversations/<int:pk>/export", views.conversation_export, name="conversation-export"),
    path("answers/<int:pk>/feedback", views.feedback, name="feedback"),
]
