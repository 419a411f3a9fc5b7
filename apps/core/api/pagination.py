"""Cursor pagination for every list endpoint: stable under inserts, no COUNT(*) per page."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination as DRFCursorPagination

# Large enough for integrations syncing in bulk, small enough to keep one response quick.
MAX_PAGE_SIZE = 200


class CursorPagination(DRFCursorPagination):
    """Newest first by primary key (unique and indexed, which cursors need).

    Views with another natural order set `ordering` on the view; `?page_size=` goes up to 200.
    """

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
