from rest_framework.pagination import CursorPagination as DRFCursorPagination


class CursorPagination(DRFCursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200
