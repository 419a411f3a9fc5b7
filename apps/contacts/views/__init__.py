"""Portal pages of contacts, one module per topic; every view is re-exported here for
apps/contacts/urls.py."""

from apps.contacts.views.contacts import (
    contacts,
    contacts_bulk,
    contacts_delete,
    contacts_detail,
    contacts_edit,
    contacts_opt_in,
    contacts_opt_out,
)
from apps.contacts.views.exports import (
    contacts_export,
    contacts_export_detail,
    contacts_export_download,
    contacts_exports,
)
from apps.contacts.views.imports import (
    contacts_import_detail,
    contacts_import_errors,
    contacts_import_map,
    contacts_import_new,
    contacts_imports,
)
from apps.contacts.views.saved_filters import (
    contacts_filter_delete,
    contacts_filter_detail,
    contacts_filter_new,
    contacts_filters,
)
from apps.contacts.views.suppressions import (
    contacts_suppression_add,
    contacts_suppression_remove,
    contacts_suppressions,
    contacts_suppressions_paste,
)

__all__ = [
    "contacts",
    "contacts_bulk",
    "contacts_delete",
    "contacts_detail",
    "contacts_edit",
    "contacts_export",
    "contacts_export_detail",
    "contacts_export_download",
    "contacts_exports",
    "contacts_filter_delete",
    "contacts_filter_detail",
    "contacts_filter_new",
    "contacts_filters",
    "contacts_import_detail",
    "contacts_import_errors",
    "contacts_import_map",
    "contacts_import_new",
    "contacts_imports",
    "contacts_opt_in",
    "contacts_opt_out",
    "contacts_suppression_add",
    "contacts_suppression_remove",
    "contacts_suppressions",
    "contacts_suppressions_paste",
]
