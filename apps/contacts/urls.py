"""Portal pages of contacts, mounted at /contacts/ inside the portal's namespace (portal:contacts…),
so the navigation keeps "Contacts" highlighted on every one of them."""

from django.urls import path

from apps.contacts import views

urlpatterns = [
    path("", views.contacts, name="contacts"),
    path("bulk/", views.contacts_bulk, name="contacts_bulk"),
    path("export/", views.contacts_export, name="contacts_export"),
    path("exports/", views.contacts_exports, name="contacts_exports"),
    path("exports/<int:export_id>/", views.contacts_export_detail, name="contacts_export_detail"),
    path("exports/<int:export_id>/download/", views.contacts_export_download, name="contacts_export_download"),
    path("<int:contact_id>/", views.contacts_detail, name="contacts_detail"),
    path("<int:contact_id>/edit/", views.contacts_edit, name="contacts_edit"),
    path("<int:contact_id>/opt-out/", views.contacts_opt_out, name="contacts_opt_out"),
    path("<int:contact_id>/opt-in/", views.contacts_opt_in, name="contacts_opt_in"),
    path("<int:contact_id>/delete/", views.contacts_delete, name="contacts_delete"),
    path("filters/", views.contacts_filters, name="contacts_filters"),
    path("filters/new/", views.contacts_filter_new, name="contacts_filter_new"),
    path("filters/<int:saved_filter_id>/", views.contacts_filter_detail, name="contacts_filter_detail"),
    path("filters/<int:saved_filter_id>/delete/", views.contacts_filter_delete, name="contacts_filter_delete"),
    path("suppressions/", views.contacts_suppressions, name="contacts_suppressions"),
    path("suppressions/add/", views.contacts_suppression_add, name="contacts_suppression_add"),
    path("suppressions/paste/", views.contacts_suppressions_paste, name="contacts_suppressions_paste"),
    path(
        "suppressions/<int:suppression_id>/remove/",
        views.contacts_suppression_remove,
        name="contacts_suppression_remove",
    ),
    path("imports/", views.contacts_imports, name="contacts_imports"),
    path("imports/new/", views.contacts_import_new, name="contacts_import_new"),
    path("imports/new/map/", views.contacts_import_map, name="contacts_import_map"),
    path("imports/<int:job_id>/", views.contacts_import_detail, name="contacts_import_detail"),
    path("imports/<int:job_id>/errors/", views.contacts_import_errors, name="contacts_import_errors"),
]
