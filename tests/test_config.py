from pathlib import Path

import os

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


def test_the_story_window():
    assert load("").stories.window == 3 * 86400
    assert load('[stories]\nwindow = "12h"\n').stories.window == 12 * 3600


def test_telegram_webhook_with_http_listen():
    s = load('[http]\nlisten = "0.0.0.0:8080"\n[telegram]\nwebhook = "https://bot.example.com/"\n')
    assert s.telegram.webhook == "https://bot.example.com" and s.http.listen == ("0.0.0.0", 8080)
    assert load("").telegram.webhook is None


BAD_CONFIGS = [
    # (config text, the line it names, what the message says)
    ('[[watches]]\nrule = "duet"\nmin_sources = 99\n', 3, "watches[1].min_sources: a story can be waited for until 2 to 50"),
    ('[[watches]]\nrule = "duet"\nmin_sources = "3"\n', 3, "watches[1].min_sources: must be a whole number"),
    ('[[watches]]\nrule = "duet"\nwithin = "2h"\n', 3, "watches[1].within: counts the outlets of min_sources"),
    ('[[watches]]\nrule = "duet"\nmin_sources = 3\nwithin = "1m"\n', 4, "between ten minutes and a week"),
    ('[poll]\nevery = \n', 2, "not valid TOML: Invalid value"),
    ('[destinations.a]\nkind = "console"\n[destinations.a]\nkind = "console"\n', 3,
     "Cannot declare ('destinations', 'a') twice"),
    ('[destinations.t]\nkind = "telegram"\nchat_id = -100\n', 2, "set TIPOFF_TELEGRAM_TOKEN in the environment"),
    ('[destinations.d]\nkind = "discord"\nchannel_id = 5\n', 2, "set TIPOFF_DISCORD_TOKEN in the environment"),
    ('# destinations\n[[destinations]]\nkind = "console"\n', 2, "[destinations.NAME]"),
    ('[poll]\nmax_age = "3000000d"\n', 2, "poll.max_age: 3000000d is longer than 36500d"),
    ('[[feeds]]\nurl = "https://a.example/f"\nevery = nan\n', 3, "feeds[1].every: nan is not a duration"),
    ('[[feeds]]\nurl = "https://a.example/f"\nevery = 1e300\n', 3, "feeds[1].every: "),
    ('[fetch]\ntimeout = 0\n', 2, "fetch.timeout: must be at least 1s"),
    ('[fetch]\ntimeout = "0s"\n', 2, "fetch.timeout: must be at least 1s"),
    ('[[watches]]\nrule = "duet"\nlabel = 5\n', 3, "watches[1].label: must be a string"),
    ('[[watches]]\nrule = "duet"\n[[watches]]\nrule = "duet"\n', 4, "already watches[1]"),
    ('[store]\ndata = "{file}"\n', 2, "store.data: "),
    ('[stories]\nwindow = "10s"\n', 2, "stories.window: must be at least"),
    ('[stories]\nwindow = "3 days"\n', 2, "stories.window: "),
    ('[stories]\nwindo = "3d"\n', 2, "stories."),
    ('[destinations.c]\nkind = "console"\nlanguage = "klingon"\n', 3,
     'destinations.c.language: "klingon" is not a language tipoff speaks (en, de, es, fr)'),
]


def test_a_destination_may_name_the_language_of_tipoffs_words(tmp_path):
    config = tmp_path / "t.toml"
    config.write_text('[destinations.mail]\nkind = "apprise"\nurl = "json://127.0.0.1:9/x"\nlanguage = "fr-CA"\n')
    dest = load_settings(config, env={}).destinations["mail"]
    assert dest.option("language") == "fr-CA"


@pytest.mark.parametrize("text, line, says", BAD_CONFIGS)
def test_configs_that_used_to_pass_or_crash_are_refused_at_load_with_file_and_line(tmp_path, capsys, text, line,
                                                                                   says):
    from bot.cli import main

    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    config = tmp_path / "bad.toml"
    config.write_text(text.replace("{file}", str(a_file)))
    with pytest.MonkeyPatch.context() as mp:
        for k in [k for k in os.environ if k.startswith("TIPOFF_")]:
            mp.delenv(k)
        code = main(["run", "--config", str(config), "--once", "--data", str(tmp_path / "d")]
                    if "store.data" not in says else ["run", "--config", str(config), "--once"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{config}:{line}: " in err and says in err, err
    assert "Traceback" not in err


def test_a_config_that_is_not_utf8_is_refused_with_its_line(tmp_path, capsys):
    from bot.cli import main

    config = tmp_path / "latin1.toml"
    config.write_bytes(b'[poll]\nevery = "10m"\n# caf\xe9\n')
    assert main(["run", "--config", str(config), "--once", "--data", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert f"{config}:3: the file is not UTF-8" in err and "Traceback" not in err


def test_a_listen_address_that_cannot_be_bound_is_a_clear_error(tmp_path, capsys, caplog):
    import socket

    from bot.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "listen.toml"
        config.write_text(f'[poll]\nevery = "10m"\n\n[http]\nlisten = "127.0.0.1:{port}"\n')
        code = main(["run", "--config", str(config), "--data", str(tmp_path / "d")])
    err = capsys.readouterr().err + caplog.text  # the log goes to stderr; under pytest, to caplog
    assert code == 2, err
    assert f"{config}:5: http.listen: cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err
