"""/api/v1/ routes of contacts (no trailing slashes, like every /api/v1/ path)."""

from django.urls import path

from apps.contacts.api import saved_filters, suppressions, views

urlpatterns = [
    path("contacts", views.ContactListCreateView.as_view(), name="api-contacts"),
    path("contacts/bulk", views.ContactBulkView.as_view(), name="api-contacts-bulk"),
    path("contacts/export", views.ContactExportView.as_view(), name="api-contacts-export"),
    path("contacts/exports", views.ContactExportListCreateView.as_view(), name="api-contact-exports"),
    path("contacts/exports/<int:export_id>", views.ContactExportDetailView.as_view(), name="api-contact-export-detail"),
    path(
        "contacts/exports/<int:export_id>/file", views.ContactExportFileView.as_view(), name="api-contact-export-file"
    ),
    path("contacts/<int:contact_id>", views.ContactDetailView.as_view(), name="api-contact-detail"),
    path("contacts/<int:contact_id>/opt-out", views.ContactOptOutView.as_view(), name="api-contact-opt-out"),
    path("contacts/<int:contact_id>/opt-in", views.ContactOptInView.as_view(), name="api-contact-opt-in"),
    path("saved-filters", saved_filters.SavedFilterListCreateView.as_view(), name="api-saved-filters"),
    path(
        "saved-filters/<int:saved_filter_id>",
        saved_filters.SavedFilterDetailView.as_view(),
        name="api-saved-filter-detail",
    ),
    path("suppressions", suppressions.SuppressionListCreateView.as_view(), name="api-suppressions"),
    path("suppressions/bulk", suppressions.SuppressionBulkView.as_view(), name="api-suppressions-bulk"),
    path(
        "suppressions/<int:suppression_id>",
        suppressions.SuppressionDetailView.as_view(),
        name="api-suppression-detail",
    ),
    path("groups", views.GroupListCreateView.as_view(), name="api-groups"),
    path("groups/<int:group_id>", views.GroupDetailView.as_view(), name="api-group-detail"),
    path("imports", views.ImportListCreateView.as_view(), name="api-imports"),
    path("imports/preview", views.ImportPreviewView.as_view(), name="api-import-preview"),
    path("imports/<int:job_id>", views.ImportDetailView.as_view(), name="api-import-detail"),
    path("imports/<int:job_id>/errors", views.ImportErrorFileView.as_view(), name="api-import-errors"),
]
