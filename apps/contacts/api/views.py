"""Contacts API front doors: contacts (CRUD, bulk upsert, export), groups, imports.

Who may do what: every member (viewer and up) reads contacts, groups and imports, exports
contacts (small exports at once, any size in the background) and downloads exports and error
reports; agents and up create, change, opt out/in and import contacts and create and rename
groups; admins and owners delete contacts and groups. API keys act with their own role.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.authentication import ApiKeyPrincipal
from apps.accounts.api.permissions import HasRole, RolePerMethodMixin
from apps.accounts.api.views import ERRORS, NOT_FOUND
from apps.accounts.models import Role
from apps.contacts import selectors
from apps.contacts.api.serializers import (
    BulkResultSerializer,
    BulkUpsertSerializer,
    ContactExportRequestSerializer,
    ContactExportSerializer,
    ContactFilterSerializer,
    ContactOptOutSerializer,
    ContactSerializer,
    ContactWriteSerializer,
    GroupSerializer,
    ImportCreateSerializer,
    ImportJobSerializer,
    ImportPreviewRequestSerializer,
    ImportPreviewSerializer,
)
from apps.contacts.models import Contact, Group, ImportJob
from apps.contacts.services import bulk, exporting, importing
from apps.contacts.services import contacts as contact_services
from apps.contacts.services import groups as group_services
from apps.core.api.errors import ApiErrorSerializer
from apps.core.exceptions import NotFound, ValidationFailed

TAGS = ["contacts"]


class FileDownloadMixin:
    """Files leave as plain responses; every error stays JSON in the one error shape."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        renderer = JSONRenderer()
        return renderer, renderer.media_type


def _contact_groups(contact, groups: list[Group] | None) -> None:
    if groups is not None:
        contact_services.contact_groups_set(contact=contact, groups=groups)


# --- contacts -----------------------------------------------------------------------------------


class ContactListCreateView(RolePerMethodMixin, generics.GenericAPIView):
    serializer_class = ContactSerializer

    @extend_schema(
        tags=TAGS,
        summary="List contacts, newest first (search by name, number or e-mail; filter by group)",
        parameters=[ContactFilterSerializer],
        responses={200: ContactSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = ContactFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        queryset = selectors.contacts_list(**query.contact_filters()).prefetch_related("memberships")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ContactSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Add a contact (the number is normalised to E.164 with the workspace's region)",
        request=ContactWriteSerializer,
        responses={201: ContactSerializer, **ERRORS, 409: OpenApiResponse(description="The number exists")},
    )
    def post(self, request: Request) -> Response:
        body = ContactWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(body.validated_data)
        groups = fields.pop("groups", None)
        contact = contact_services.contact_create(**fields)
        _contact_groups(contact, groups)
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)


class ContactDetailView(RolePerMethodMixin, APIView):
    @extend_schema(tags=TAGS, summary="One contact", responses={200: ContactSerializer, **ERRORS, **NOT_FOUND})
    def get(self, request: Request, contact_id: int) -> Response:
        return Response(ContactSerializer(contact_services.contact_get(contact_id=contact_id)).data)

    @extend_schema(
        tags=TAGS,
        summary="Change a contact (not its number)",
        request=ContactWriteSerializer,
        responses={200: ContactSerializer, **ERRORS, **NOT_FOUND},
    )
    def patch(self, request: Request, contact_id: int) -> Response:
        contact = contact_services.contact_get(contact_id=contact_id)
        if "phone" in request.data:
            raise ValidationFailed("A contact's number cannot change; add a new contact.", code="phone_immutable")
        body = ContactWriteSerializer(contact, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(body.validated_data)
        groups = fields.pop("groups", None)
        contact = contact_services.contact_update(contact=contact, **fields)
        _contact_groups(contact, groups)
        return Response(ContactSerializer(contact).data)

    @extend_schema(
        tags=TAGS,
        summary="Delete a contact",
        responses={204: OpenApiResponse(description="Deleted"), **ERRORS, **NOT_FOUND},
    )
    def delete(self, request: Request, contact_id: int) -> Response:
        contact_services.contact_delete(contact=contact_services.contact_get(contact_id=contact_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactOptOutView(APIView):
    permission_classes = (HasRole(Role.AGENT),)

    @extend_schema(
        tags=TAGS,
        summary="Opt a contact out of every campaign from now on (recorded as via api); a contact "
        "already opted out keeps its original when, why and how",
        request=ContactOptOutSerializer,
        responses={200: ContactSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, contact_id: int) -> Response:
        contact = contact_services.contact_get(contact_id=contact_id)
        body = ContactOptOutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        bulk.contacts_opt_out(contact_ids=[contact.id], reason=body.validated_data["reason"], via=Contact.OptOutVia.API)
        contact.refresh_from_db()
        return Response(ContactSerializer(contact).data)


class ContactOptInView(APIView):
    permission_classes = (HasRole(Role.AGENT),)

    @extend_schema(
        tags=TAGS,
        summary="Clear a contact's opt-out (it asked to hear from you again); the suppression list is not changed",
        request=None,
        responses={200: ContactSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request: Request, contact_id: int) -> Response:
        contact = contact_services.contact_get(contact_id=contact_id)
        bulk.contacts_opt_in(contact_ids=[contact.id])
        contact.refresh_from_db()
        return Response(ContactSerializer(contact).data)


class ContactBulkView(APIView):
    permission_classes = (HasRole(Role.AGENT),)

    @extend_schema(
        tags=TAGS,
        summary="Create or update up to 1,000 contacts by number; bad items are reported by index",
        request=BulkUpsertSerializer,
        responses={200: BulkResultSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = BulkUpsertSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = contact_services.contacts_bulk_upsert(
            items=data["contacts"], update_existing=data["mode"] == ImportJob.Mode.UPDATE, group=data.get("group")
        )
        return Response(BulkResultSerializer(result).data)


TOO_LARGE = {
    422: OpenApiResponse(
        ApiErrorSerializer,
        description=f"More than {exporting.EXPORT_INLINE_MAX_ROWS:,} contacts match (code export_too_large): "
        "use POST /api/v1/contacts/exports",
    )
}
EXPORT_GONE = {409: OpenApiResponse(ApiErrorSerializer, description="Not finished yet (code export_not_ready)")} | {
    410: OpenApiResponse(ApiErrorSerializer, description="The file was deleted after a while (code export_expired)")
}


class ContactExportView(FileDownloadMixin, APIView):
    @extend_schema(
        tags=TAGS,
        summary=f"Download up to {exporting.EXPORT_INLINE_MAX_ROWS:,} contacts as CSV or XLSX at once "
        "(spreadsheet formulas neutralised); larger exports go through /api/v1/contacts/exports",
        parameters=[
            OpenApiParameter("file_format", enum=list(exporting.EXPORT_FORMATS), default="csv"),
            ContactFilterSerializer,
        ],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY), **ERRORS, **TOO_LARGE},
    )
    def get(self, request: Request) -> HttpResponse:
        query = ContactFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        export = exporting.contacts_export(
            queryset=selectors.contacts_list(**query.contact_filters()),
            file_format=request.query_params.get("file_format", "csv"),
            max_rows=exporting.EXPORT_INLINE_MAX_ROWS,
        )
        response = HttpResponse(export.content, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="contacts.{export.extension}"'
        return response


class ContactExportListCreateView(generics.GenericAPIView):
    serializer_class = ContactExportSerializer

    @extend_schema(
        tags=TAGS,
        summary="List background contact exports, newest first",
        responses={200: ContactExportSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(exporting.contact_exports_list())
        return self.get_paginated_response(ContactExportSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Export contacts of any number in the background (filters and file_format as query "
        "parameters or a JSON body); follow its status, then download its file",
        parameters=[ContactExportRequestSerializer],
        request=ContactExportRequestSerializer,
        responses={202: ContactExportSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = ContactExportRequestSerializer(data=request.data or request.query_params)
        body.is_valid(raise_exception=True)
        export = exporting.contact_export_request(
            filters=body.contact_filters(),
            file_format=body.validated_data["file_format"],
            requested_by_id=None if isinstance(request.user, ApiKeyPrincipal) else request.user.pk,
        )
        return Response(ContactExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class ContactExportDetailView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="A background export's state and progress",
        responses={200: ContactExportSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, export_id: int) -> Response:
        return Response(ContactExportSerializer(exporting.contact_export_get(export_id=export_id)).data)


class ContactExportFileView(FileDownloadMixin, APIView):
    @extend_schema(
        tags=TAGS,
        summary="Download a finished background export (CSV or XLSX)",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            **ERRORS,
            **NOT_FOUND,
            **EXPORT_GONE,
        },
    )
    def get(self, request: Request, export_id: int) -> FileResponse:
        export = exporting.contact_export_get(export_id=export_id)
        return FileResponse(
            exporting.contact_export_file(export=export),
            as_attachment=True,
            filename=f"contacts.{export.file_format}",
            content_type=exporting.EXPORT_FORMATS[export.file_format],
        )


# --- groups -------------------------------------------------------------------------------------


class GroupListCreateView(RolePerMethodMixin, generics.GenericAPIView):
    serializer_class = GroupSerializer

    @extend_schema(
        tags=TAGS,
        summary="List groups with their contact counts",
        responses={200: GroupSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.groups_list())
        return self.get_paginated_response(GroupSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Add a group (names are unique regardless of case)",
        request=GroupSerializer,
        responses={201: GroupSerializer, **ERRORS, 409: OpenApiResponse(description="The name is taken")},
    )
    def post(self, request: Request) -> Response:
        body = GroupSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        group = group_services.group_create(
            name=body.validated_data["name"], description=body.validated_data.get("description", "")
        )
        return Response(GroupSerializer(group).data, status=status.HTTP_201_CREATED)


class GroupDetailView(RolePerMethodMixin, APIView):
    def _group(self, group_id: int) -> Group:
        group = selectors.groups_list().filter(pk=group_id).first()
        if group is None:
            raise NotFound("No such group.", code="group_not_found")
        return group

    @extend_schema(tags=TAGS, summary="One group", responses={200: GroupSerializer, **ERRORS, **NOT_FOUND})
    def get(self, request: Request, group_id: int) -> Response:
        return Response(GroupSerializer(self._group(group_id)).data)

    @extend_schema(
        tags=TAGS,
        summary="Rename a group or change its description (names are unique regardless of case)",
        request=GroupSerializer,
        responses={200: GroupSerializer, **ERRORS, **NOT_FOUND, 409: OpenApiResponse(description="The name is taken")},
    )
    def patch(self, request: Request, group_id: int) -> Response:
        group = self._group(group_id)
        body = GroupSerializer(group, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        group_services.group_update(
            group=group, name=body.validated_data.get("name"), description=body.validated_data.get("description")
        )
        return Response(GroupSerializer(self._group(group_id)).data)

    @extend_schema(
        tags=TAGS,
        summary="Delete a group (its contacts stay); refused while an unfinished campaign uses it",
        responses={
            204: OpenApiResponse(description="Deleted"),
            **ERRORS,
            **NOT_FOUND,
            409: OpenApiResponse(description="A campaign that has not finished uses the group"),
        },
    )
    def delete(self, request: Request, group_id: int) -> Response:
        group_services.group_delete(group=self._group(group_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- imports ------------------------------------------------------------------------------------


class ImportListCreateView(RolePerMethodMixin, generics.GenericAPIView):
    serializer_class = ImportJobSerializer
    parser_classes = (MultiPartParser, FormParser, JSONParser)

    @extend_schema(
        tags=TAGS,
        summary="List contact imports, newest first",
        responses={200: ImportJobSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.import_jobs_list())
        return self.get_paginated_response(ImportJobSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Upload a CSV, TSV or XLSX file; the import runs in the background (follow its status)",
        request={"multipart/form-data": ImportCreateSerializer},
        responses={202: ImportJobSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = ImportCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        upload = data["file"]
        job = importing.import_job_create(
            stream=upload,
            name=upload.name,
            mapping=data.get("mapping"),
            mode=data["mode"],
            group=data.get("group"),
            delimiter=data.get("delimiter"),
            created_by_id=None if isinstance(request.user, ApiKeyPrincipal) else request.user.pk,
        )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportPreviewView(APIView):
    permission_classes = (HasRole(Role.AGENT),)
    parser_classes = (MultiPartParser, FormParser)

    @extend_schema(
        tags=TAGS,
        summary="How a file will be read: format, encoding, delimiter, first rows and a suggested mapping",
        request={"multipart/form-data": ImportPreviewRequestSerializer},
        responses={200: ImportPreviewSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = ImportPreviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        preview = importing.import_preview(
            stream=upload, name=upload.name, delimiter=body.validated_data.get("delimiter")
        )
        return Response(
            ImportPreviewSerializer(
                {
                    "format": preview.layout.format,
                    "encoding": preview.layout.encoding,
                    "delimiter": preview.layout.delimiter,
                    "headers": preview.headers,
                    "rows": preview.rows,
                    "mapping": preview.mapping,
                }
            ).data
        )


class ImportDetailView(APIView):
    @extend_schema(
        tags=TAGS, summary="An import's state and counts", responses={200: ImportJobSerializer, **ERRORS, **NOT_FOUND}
    )
    def get(self, request: Request, job_id: int) -> Response:
        return Response(ImportJobSerializer(importing.import_job_get(job_id=job_id)).data)


class ImportErrorFileView(FileDownloadMixin, APIView):
    @extend_schema(
        tags=TAGS,
        summary="The rows an import could not take, with line numbers and reasons (CSV)",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY), **ERRORS, **NOT_FOUND},
    )
    def get(self, request: Request, job_id: int) -> FileResponse:
        job = importing.import_job_get(job_id=job_id)
        if not job.error_file:
            raise NotFound("This import has no rejected rows.", code="no_error_file")
        base = job.original_name.rsplit(".", 1)[0] or "import"
        return FileResponse(
            job.error_file.open("rb"),
            as_attachment=True,
            filename=f"{base}-errors.csv",
            content_type="text/csv; charset=utf-8",
        )
