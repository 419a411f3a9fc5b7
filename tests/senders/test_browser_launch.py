from apps.senders.driver import browser


def test_sandbox_stays_on_for_an_unprivileged_user_unless_turned_off(settings, monkeypatch):
    monkeypatch.setattr(browser.os, "geteuid", lambda: 1000)

    settings.CHROMIUM_SANDBOX = True
    assert "--no-sandbox" not in browser.launch_args()

    settings.CHROMIUM_SANDBOX = False
    assert browser.launch_args().count("--no-sandbox") == 1


def test_root_always_runs_without_the_sandbox(settings, monkeypatch):
    monkeypatch.setattr(browser.os, "geteuid", lambda: 0)
    settings.CHROMIUM_SANDBOX = True

    assert browser.launch_args().count("--no-sandbox") == 1
