from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, parse_duration
from tests.conftest import PROJECT


def load(text, **kw):
    return load_settings(Path("conf/tipoff.toml"), text=text, env=kw.pop("env", {}), **kw)


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("10m", 600), ("1.5h", 5400), ("7d", 604800),
                                           ("1h30m", 5400), (45, 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10x", "", "m", "-5m", "ten minutes"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("text, error", [
    ('[poll]\nevry = "5m"\n', 'conf/tipoff.toml:2: poll.evry: unknown key (did you mean "every"?)'),
    ('[[feeds]]\nurl = "https://a/f"\n[[feeds]]\nurl = "gopher://x"\n', "conf/tipoff.toml:4: feeds[2].url"),
    ('[[feeds]]\nurl = "https://a/f"\nevery = "0s"\n', "feeds[1].every: must be at least 1s"),
    ('[destinations.fans]\nkind = "pager"\n', "conf/tipoff.toml:2: destinations.fans.kind"),
    ('[destinations.fans]\nkind = "webhook"\n', "destinations.fans.url: is required"),
    ('[destinations.tg]\nkind = "telegram"\nchat_id = "abc"\n', "destinations.tg.chat_id"),
    ('[[watches]]\nrule = "(gaga"\n', "conf/tipoff.toml:2: watches[1].rule: unclosed \"(\": expected \")\" at column 1"),
    ('[[watches]]\nrule = "gaga"\nnotify = ["fans"]\n', 'no destination named "fans"'),
    ("[poll\n", "conf/tipoff.toml"),
    ('[log]\nlevel = "LOUD"\n', "log.level"),
    ('[telegram]\nwebhook = "https://bot.example.com"\n', "telegram.webhook: needs [http] listen"),
    ('[http]\nlisten = "127.0.0.1:8080"\n[telegram]\nwebhook = "http://bot.example.com"\n',
     "telegram.webhook: Telegram delivers webhooks over https only"),
    ('[discord]\nshards = 0\n', 'conf/tipoff.toml:2: discord.shards: must be "auto" or a whole number of at least 1'),
    ('[discord]\nshards = "many"\n', "discord.shards"),
])
def test_errors_name_the_key_and_line(text, error):
    with pytest.raises(ConfigError) as err:
        load(text)
    assert error in str(err.value)


def test_defaults_and_console_fallback():
    s = load("")
    assert (s.poll.every, s.poll.min_every, s.poll.backfill, s.fetch.max_bytes) == (600, 300, 0, 10 * 1024 * 1024)
    assert list(s.destinations) == ["console"]


def test_watch_notifies_console_by_default_and_ids_are_stable():
    a = load('[[watches]]\nrule = "gaga"\n').watches[0]
    b = load('[[watches]]\nrule = "gaga"\n').watches[0]
    assert a.notify == ("console",) and a.id == b.id


def test_relative_file_feeds_resolve_against_the_config():
    s = load_settings(PROJECT / "config" / "demo.toml", env={})
    assert all(f.url.startswith("file:///") and f.trusted for f in s.feeds)
    assert Path(s.feeds[0].url[7:]).exists()


def test_environment_overrides_log_level_and_data_dir(tmp_path):
    s = load('[log]\nlevel = "INFO"\n', env={"TIPOFF_LOG_LEVEL": "debug", "TIPOFF_DATA_DIR": str(tmp_path)})
    assert (s.log_level, s.data_dir) == ("DEBUG", tmp_path)
    assert load("", env={"TIPOFF_DATA_DIR": "x"}, data_dir=Path("y")).data_dir == Path("y")


def test_example_configs_are_valid():
    for name in ("tipoff.toml", "demo.toml"):
        load_settings(PROJECT / "config" / name, env={})


def test_store_url_selects_redis_and_keeps_its_password_out_of_errors():
    from bot.config import load_settings as load
    assert load(None, text='[store]\nurl = "redis://127.0.0.1:6379/0"\n').store_url == "redis://127.0.0.1:6379/0"
    assert load(None, text="", env={"TIPOFF_STORE_URL": "redis://r:6379/1"}).store_url == "redis://r:6379/1"
    assert load(None, text="").store_url is None
    with pytest.raises(ConfigError) as err:
        load(None, text='[store]\nurl = "postgres://user:hunter2@db/x"\n')
    assert "store.url" in str(err.value) and "hunter2" not in str(err.value)


def test_discord_shards_are_auto_unless_given():
    assert load("").discord.shards is None
    assert load('[discord]\nshards = "auto"\n').discord.shards is None
    assert load("[discord]\nshards = 4\n").discord.shards == 4


def test_a_webhook_url_can_come_from_the_environment_and_never_shows_in_errors():
    spec = '[destinations.fans]\nkind = "discord_webhook"\nurl_env = "FANS_HOOK"\n'
    secret = "https://discord.com/api/webhooks/1/s3cr3t-token"
    dest = load(spec, env={"FANS_HOOK": secret}).destinations["fans"]
    assert dest.option("url") == secret
    with pytest.raises(ConfigError) as err:
        load(spec)
    assert "destinations.fans.url_env: the environment variable FANS_HOOK is not set" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load(spec, env={"FANS_HOOK": "ftp://s3cr3t"})
    assert "FANS_HOOK must hold an http(s) URL" in str(err.value) and "s3cr3t" not in str(err.value)
    with pytest.raises(ConfigError) as err:
        load(spec + 'url = "https://a.example/"\n')
    assert "give url or url_env, not both" in str(err.value)


def test_telegram_webhook_with_http_listen():
    s = load('[http]\nlisten = "0.0.0.0:8080"\n[telegram]\nwebhook = "https://bot.example.com/"\n')
    assert s.telegram.webhook == "https://bot.example.com" and s.http.listen == ("0.0.0.0", 8080)
    assert load("").telegram.webhook is None
