"""The web app's languages: Vietnamese by default, English as an option.

Source strings are English, in the templates (``{% trans %}``, ``_()``) and here in Python;
the translations are gettext catalogues in ``pipeline/web/locale/<lang>/LC_MESSAGES/``
(``messages.po``, compiled to the ``messages.mo`` that is loaded, both committed). Which
language a page is in: the account's own choice (``users.language``), else the choice made
on the login page (kept in the session), else the site's ``KIEMTIN_LANGUAGE``, else "vi".

Updating the catalogues after changing a string (``babel.cfg`` says where they are)::

    pybabel extract -F babel.cfg --no-location --sort-output -o pipeline/web/locale/messages.pot .
    pybabel update -i pipeline/web/locale/messages.pot -d pipeline/web/locale -w 100 \
        --no-fuzzy-matching
    # translate the new entries of pipeline/web/locale/vi/LC_MESSAGES/messages.po, then
    pybabel compile -d pipeline/web/locale

``tests/web/test_i18n.py`` fails while a string has no Vietnamese, a ``.mo`` is older than
its ``.po``, or a template shows text outside ``{% trans %}``.

Python code that builds a message before the reader's language is known (an error raised
deep in a route, a flash message kept in the session until the next page) marks it with
``_()``, which returns a :class:`Message`: it is translated when the page is rendered.

>>> done = _("Item %(id)s: answered %(label)s.", id=7, label=LabelName("hostile", "hate"))
>>> str(done)
'Item 7: answered hate.'
>>> done.translate("vi")
'Mục 7: đã gán nhãn thù ghét.'
>>> label_name("hostile", "hate", "vi"), label_name("hostile", "hate", "en")
('thù ghét', 'hate')
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2
from babel.support import Translations

from ..errors import InputError

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
# Each language named in itself: the switch offers the other one in its own words.
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def check_language(language: str | None, where: str = "KIEMTIN_LANGUAGE") -> str:
    """``language`` when the app has it ("vi" or "en"), else a clear InputError."""
    if language not in LANGUAGES:
        raise InputError(
            where,
            expected=f"one of {', '.join(LANGUAGES)}",
            found=repr(language),
            fix="Use vi (Tiếng Việt, the default) or en (English).",
        )
    return language


@functools.cache
def translations(language: str) -> Translations:
    """The compiled catalogue of ``language``."""
    path = LOCALE_DIR / check_language(language, "language") / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with path.open("rb") as handle:
        return Translations(handle, domain=DOMAIN)


def N_(message: str) -> str:
    """Mark a constant for the catalogue; it is translated where it is shown."""
    return message


class Message:
    """A message in English, translated into the reader's language when shown.

    ``params`` fill its ``%(name)s`` places after translation; a param that is a Message is
    translated too. ``to_json`` / ``from_json`` keep it in the session (flash messages).
    """

    __slots__ = ("context", "msgid", "params")

    def __init__(self, msgid: str, context: str | None = None, **params):
        self.msgid, self.context, self.params = msgid, context, params

    def translate(self, language: str) -> str:
        catalogue = translations(language)
        if self.context:
            text = catalogue.pgettext(self.context, self.msgid)
        else:
            text = catalogue.gettext(self.msgid)
        if not self.params:
            return text
        return text % {k: localize(v, language) for k, v in self.params.items()}

    def __str__(self) -> str:
        text = self.msgid
        return text % {k: str(v) for k, v in self.params.items()} if self.params else text

    def __repr__(self) -> str:
        return f"Message({str(self)!r})"

    def to_json(self) -> dict:
        params = {k: v.to_json() if isinstance(v, Message) else v for k, v in self.params.items()}
        return {"msgid": self.msgid, "context": self.context, "params": params}

    @classmethod
    def from_json(cls, data: dict) -> Message:
        if "label" in data:
            return LabelName(data.get("task", ""), data["label"])
        params = {
            k: Message.from_json(v) if isinstance(v, dict) else v
            for k, v in (data.get("params") or {}).items()
        }
        return cls(data["msgid"], data.get("context"), **params)


class LabelName(Message):
    """A task's label, shown by the task's name for it in the reader's language."""

    def __init__(self, task: str, label: str):
        super().__init__(label)
        self.context, self.params = task, {}

    def translate(self, language: str) -> str:
        return label_name(self.context or "", self.msgid, language)

    def to_json(self) -> dict:
        return {"label": self.msgid, "task": self.context}


def _(message: str, **params) -> Message:
    """``message`` (English, ``%(name)s`` places for ``params``), translated when shown."""
    return Message(message, **params)


def pgettext(context: str, message: str, **params) -> Message:
    """Like ``_``, for a word that means different things in different places."""
    return Message(message, context, **params)


def localize(value, language: str) -> str:
    """A Message in ``language``; a string from the catalogue (a ``N_`` constant) translated;
    anything else as it is."""
    if isinstance(value, Message):
        return value.translate(language)
    if isinstance(value, dict) and ("msgid" in value or "label" in value):  # from the session
        return Message.from_json(value).translate(language)
    if isinstance(value, str):
        # gettext("") is the catalogue's header, not an empty message.
        return translations(language).gettext(value) if value else value
    return "" if value is None else str(value)


# Words stored in English in the database (statuses, roles), shown in the reader's language.
ITEM_STATUSES = {
    "open": pgettext("item status", "open"),
    "answered": pgettext("item status", "answered"),
    "adjudication": pgettext("item status", "adjudication"),
    "done": pgettext("item status", "done"),
}
REBUTTAL_STATUSES = {
    "draft": pgettext("rebuttal status", "draft"),
    "approved": pgettext("rebuttal status", "approved"),
    "published": pgettext("rebuttal status", "published"),
}
JOB_STATUSES = {
    "queued": pgettext("job status", "queued"),
    "running": pgettext("job status", "running"),
    "done": pgettext("job status", "done"),
    "failed": pgettext("job status", "failed"),
}
JOB_KINDS = {"rescore": pgettext("job kind", "re-scoring")}
ROLES = {
    "admin": pgettext("role", "admin"),
    "trainer": pgettext("role", "trainer"),
    "reviewer": pgettext("role", "reviewer"),
    "communicator": pgettext("role", "communicator"),
    "analyst": pgettext("role", "analyst"),
}
WORDS = {
    "item": ITEM_STATUSES,
    "rebuttal": REBUTTAL_STATUSES,
    "job": JOB_STATUSES,
    "job kind": JOB_KINDS,
    "role": ROLES,
}


def word(kind: str, value: str | None, language: str) -> str:
    """A stored status or role in ``language`` (the stored word itself when unknown)."""
    found = WORDS[kind].get(value or "")
    return found.translate(language) if found else (value or "")


@functools.cache
def _task_display(task: str) -> dict:
    from ..tasks import known_tasks, load_task

    return load_task(task).display if task in known_tasks() else {}


def label_name(task: str, label: str | None, language: str) -> str:
    """A task's label as reviewers read it (``hate`` is "thù ghét" in Vietnamese); the label
    itself where the task file names none. Stored values never change."""
    if not label:
        return ""
    return _task_display(task).get(language, {}).get("labels", {}).get(label, label)


def task_labels(task: str) -> list[str]:
    """A bundled task's labels, in its file's order (none for a task the app has no file of)."""
    from ..tasks import known_tasks, load_task

    return list(load_task(task).labels) if task in known_tasks() else []


def task_name(task: str, language: str) -> str:
    """A task's name as shown (``hostile`` is "thù địch" in Vietnamese)."""
    return _task_display(task).get(language, {}).get("name", task)


def install(env: jinja2.Environment) -> None:
    """The i18n extension on ``env``; templates translate into their context's ``language``
    (set by ``render``) and get helpers for the stored words: ``label_name(task, label)``,
    ``task_name(task)``, ``word(kind, value)`` and ``tr(message)`` for a Message."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True

    def lang(context) -> str:
        return context.get("language") or DEFAULT_LANGUAGE

    @jinja2.pass_context
    def gettext(context, message: str) -> str:
        return translations(lang(context)).gettext(message)

    @jinja2.pass_context
    def ngettext(context, singular: str, plural: str, n: int) -> str:
        return translations(lang(context)).ngettext(singular, plural, n)

    @jinja2.pass_context
    def pgettext_(context, ctx: str, message: str) -> str:
        return translations(lang(context)).pgettext(ctx, message)

    @jinja2.pass_context
    def npgettext(context, ctx: str, singular: str, plural: str, n: int) -> str:
        return translations(lang(context)).npgettext(ctx, singular, plural, n)

    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True, pgettext=pgettext_, npgettext=npgettext
    )
    env.globals.update(
        label_name=jinja2.pass_context(lambda c, task, label: label_name(task, label, lang(c))),
        task_name=jinja2.pass_context(lambda c, task: task_name(task, lang(c))),
        word=jinja2.pass_context(lambda c, kind, value: word(kind, value, lang(c))),
        tr=jinja2.pass_context(lambda c, message: localize(message, lang(c))),
        task_labels=task_labels,
        language_names=LANGUAGE_NAMES,
    )
