from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

PLACEHOLDERS = ["inbox", "chatbots"]
NAV = {
    "/": "Dashboard",
    "/numbers/": "WhatsApp numbers",
    "/contacts/": "Contacts",
    "/campaigns/": "Campaigns",
    "/templates/": "Templates",
    "/inbox/": "Inbox",
    "/chatbots/": "Chatbots",
    "/analytics/": "Analytics",
    "/settings/": "Settings",
}


@pytest.mark.parametrize("section", PLACEHOLDERS)
def test_each_unbuilt_section_says_so_plainly(section, alpha, client_for):
    response = client_for(alpha).get(reverse(f"portal:{section}"))

    assert response.status_code == 200
    assert "This part of Chorus is not built yet" in response.content.decode()


def test_navigation_links_every_section_and_marks_the_current_one(alpha, client_for):
    html = client_for(alpha).get("/campaigns/").content.decode()

    for url, label in NAV.items():
        assert f'href="{url}"' in html
        assert f"<span>{label}</span>" in html
    assert 'class="nav-link is-active" href="/campaigns/" aria-current="page"' in html


def test_shell_has_tenant_name_user_menu_logout_post_and_locale_switcher(alpha, client_for):
    html = client_for(alpha).get("/").content.decode()

    assert '<span class="topbar-tenant-name">Alpha Inc</span>' in html
    assert f'<form method="post" action="{reverse("accounts:logout")}">' in html
    assert f'href="{reverse("accounts:profile")}"' in html
    assert '<form class="locale-switcher" action="/i18n/setlang/" method="post"' in html
    for code in ("en", "hi", "mr", "fa"):
        assert f'<option value="{code}"' in html
    assert "data-theme-toggle" in html


def test_pages_load_only_local_assets_and_vendored_htmx_exists(alpha, client_for):
    html = client_for(alpha).get("/").content.decode()

    assert '<script src="/static/vendor/htmx.min.js" defer></script>' in html
    assert '<script src="/static/js/app.js"></script>' in html
    assert '<link rel="stylesheet" href="/static/css/app.css">' in html
    assert "https://" not in html
    assert 'src="http' not in html and 'href="http' not in html
    vendored = Path(settings.BASE_DIR, "static", "vendor", "htmx.min.js").read_text()
    assert vendored.startswith("var htmx=")


def test_english_pages_render_left_to_right(alpha, client_for):
    html = client_for(alpha).get("/").content.decode()

    assert '<html lang="en" dir="ltr">' in html


def test_switching_to_persian_renders_right_to_left_with_translated_navigation(alpha, client_for):
    client = client_for(alpha)

    response = client.post("/i18n/setlang/", {"language": "fa", "next": "/"})
    assert response.status_code == 302
    html = client.get("/").content.decode()

    assert '<html lang="fa" dir="rtl">' in html
    assert "<span>داشبورد</span>" in html
    assert "<span>تنظیمات</span>" in html
    # It sticks on the next page too.
    assert '<html lang="fa" dir="rtl">' in client.get("/contacts/").content.decode()


def test_switching_to_hindi_renders_hindi_navigation(alpha, client_for):
    client = client_for(alpha)

    client.post("/i18n/setlang/", {"language": "hi", "next": "/"})
    html = client.get("/").content.decode()

    assert '<html lang="hi" dir="ltr">' in html
    assert "<span>डैशबोर्ड</span>" in html
    assert "<span>संपर्क</span>" in html


def test_switching_to_marathi_renders_marathi_navigation(alpha, client_for):
    client = client_for(alpha)

    client.post("/i18n/setlang/", {"language": "mr", "next": "/"})
    html = client.get("/settings/general/").content.decode()

    assert '<html lang="mr" dir="ltr">' in html
    assert "<span>डॅशबोर्ड</span>" in html
    assert "<span>सेटिंग्ज</span>" in html


def test_auth_layout_pages_have_the_locale_switcher_and_theme_toggle(alpha):
    html = Client(HTTP_HOST=alpha.host).get(reverse("accounts:login")).content.decode()

    assert 'class="auth-body"' in html
    assert '<form class="locale-switcher" action="/i18n/setlang/" method="post"' in html
    assert "data-theme-toggle" in html
