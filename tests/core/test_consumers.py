"""TenantConsumer helpers that later consumers (campaigns, inbox, profiles) build on."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection

from apps.core.realtime.consumers import NotificationsConsumer


def consumer_for(schema_name: str, user_id: int = 7) -> NotificationsConsumer:
    consumer = NotificationsConsumer()
    consumer.scope = {"schema_name": schema_name, "user": type("U", (), {"pk": user_id})()}
    return consumer


def test_consumer_database_work_runs_in_its_tenant_schema_and_restores_the_schema(commit_db):
    consumer = consumer_for("t_beta")

    seen = async_to_sync(consumer.in_tenant_schema)(lambda: connection.schema_name)
    after = async_to_sync(database_sync_to_async(lambda: connection.schema_name))()

    assert (seen, after) == ("t_beta", "public")


def test_notifications_consumer_topics_are_the_tenant_feed_and_the_users_own():
    assert consumer_for("t_alpha", user_id=42).topics() == ["notifications", "user.42"]
