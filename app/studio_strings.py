"""Every UI string of the studio (``/studio``), keyed as its template and its browser code read
them, translated through the gettext catalogs (:mod:`app.i18n`).

Contracts:

* :data:`STUDIO_MESSAGES` is the one place a studio string is written: the template reads
  ``s.<key>`` and the browser code ``t("<key>")`` / ``tn("<key>", n)`` (``web/static/studio/
  i18n.js``), from the ``<script type="application/json" id="sd-strings">`` the page carries
  (:func:`studio_config`). No studio word is written in JavaScript or HTML.
* A message is ``N_("…")`` or, when it counts something, ``N_plural("{n} …", "{n} …s")``; other
  placeholders are ``{name}`` fields the caller fills (``t("feed_created", {title})``).
* Adding a string: add the key here, use it, run ``make messages``, translate the new msgid in
  every ``app/locale/<lang>/LC_MESSAGES/messages.po`` (the test suite fails on a missing or
  untranslated one, and on a key the browser code uses that is not here).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from app import i18n
from app.i18n import N_, MessageTable, N_plural

STUDIO_MESSAGES: MessageTable = {
    # -- page, header, language chooser
    "page_title": N_("Studio — livefeed"),
    "product": N_("Studio"),
    "skip": N_("Skip to the console"),
    "language": N_("Language"),
    "change_language": N_("Change language"),
    "sign_out": N_("Sign out"),
    "dismiss": N_("Dismiss message"),
    # -- sign in
    "signin_title": N_("Sign in to the studio"),
    "token_label": N_("Reporter or admin token"),
    "token_hint": N_("Kept in this tab only; closing the tab signs you out."),
    "sign_in": N_("Sign in"),
    "token_missing": N_("Paste the token you were given."),
    "token_invalid": N_("That token is not valid, or it was revoked."),
    "token_expired": N_(
        "Your token has expired or was revoked. Sign in again — your draft is kept."
    ),
    "signed_out": N_("Signed out."),
    "offline": N_(
        "Can’t reach the server — check your connection. Nothing was lost: try again when "
        "you’re back online."
    ),
    "offline_banner": N_("You’re offline. Keep writing: your draft is saved on this device."),
    "conn_live": N_("Live"),
    "conn_reconnecting": N_("Reconnecting…"),
    "conn_offline": N_("Offline"),
    "conn_stopped": N_("Stopped"),
    "admin": N_("Admin"),
    # -- the open feed
    "feed_settings": N_("Feed settings"),
    "feed": N_("Feed"),
    "feed_label_ended": N_("{title} ({slug}) — ended"),
    "no_feeds": N_("No feeds yet: create one."),
    "live": N_("Live"),
    "ended": N_("Ended"),
    "open_reader": N_("Open reader page"),
    "readers_count": N_plural("{n} reader", "{n} readers"),
    "end_blog": N_("End the live blog"),
    "reopen_blog": N_("Reopen the live blog"),
    "admin_only_status": N_("Only an admin can end or reopen a feed."),
    "end_confirm": N_(
        "End this live blog? Readers will see it has ended; you can reopen it later."
    ),
    "end_live_blog": N_("End live blog"),
    "ended_toast": N_("The live blog has ended."),
    "reopened_toast": N_("The live blog is live again."),
    "embed_title": N_("Embed on another site"),
    "embed_code": N_("Embed code"),
    "copy_embed": N_("Copy embed code"),
    "origins_label": N_("Sites allowed to embed (one origin per line; empty: any site)"),
    "save_origins": N_("Save allowed sites"),
    "origins_some": N_("Only these sites may embed the feed."),
    "origins_any": N_("Any site may embed the feed."),
    "copied": N_("Copied"),
    "copied_toast": N_("Copied to the clipboard."),
    # -- admin: feeds and tokens
    "new_feed": N_("New feed"),
    "slug": N_("Slug"),
    "slug_hint": N_("Lower-case letters, digits and dashes; part of the URL."),
    "title": N_("Title"),
    "description": N_("Description"),
    "optional": N_("(optional)"),
    "time_zone": N_("Time zone"),
    "create_feed": N_("Create feed"),
    "feed_needs": N_("A feed needs a slug and a title."),
    "feed_created": N_("Feed “{title}” created."),
    "slug_taken": N_("That slug is taken: {detail}"),
    "token_for_feed": N_("Reporter token for this feed"),
    "reporter_name": N_("Reporter’s name"),
    "name_example": N_("Jane Doe"),
    "create_token": N_("Create token"),
    "token_needs_name": N_("Give the token a name, e.g. the reporter’s."),
    "new_token": N_("New token — shown once, copy it now"),
    "copy_token": N_("Copy token"),
    "feed_tokens": N_("Tokens of this feed"),
    "no_tokens": N_("No reporter tokens yet."),
    "token_state_active": N_("active"),
    "token_state_revoked": N_("revoked"),
    "token_state_expired": N_("expired"),
    "revoke": N_("Revoke"),
    "revoke_label": N_("Revoke the token of {name}"),
    "revoke_confirm": N_("Revoke the token of {name}? Whoever uses it is signed out at once."),
    # -- composer
    "new_update": N_("New update"),
    "text": N_("Text"),
    "markdown": N_("(Markdown)"),
    "preview": N_("Preview"),
    "preview_empty": N_("Your update, as readers will see it."),
    "add_photos": N_("Add photos"),
    "drop_hint": N_("or drop them here, or paste into the text"),
    "link_label": N_("Video or post link"),
    "add_card": N_("Add card"),
    "media_list": N_("Photos and links of this update"),
    "pin_to_top": N_("Pin to top"),
    "key_event": N_("Key event"),
    "author": N_("Author"),
    "publish": N_("Publish"),
    "publishing": N_("Publishing…"),
    "published_toast": N_("Published."),
    # {keys} is the keyboard shortcut (Ctrl+Enter), as markup.
    "publish_shortcut": N_("{keys} publishes · drafts are saved on this device"),
    "draft_saved": N_("Draft saved"),
    "draft_restored": N_("Draft restored"),
    "draft_kept": N_("Draft kept on this device"),
    "write_first": N_("Write something first."),
    # -- photos and link cards
    "alt_text": N_("Alt text (what the photo shows)"),
    "decorative_check": N_("Decorative (no alt text)"),
    "decorative_word": N_("decorative"),
    "caption": N_("Caption"),
    "credit": N_("Credit"),
    "alt_required": N_(
        "Describe each photo for readers who cannot see it (alt text), or tick “Decorative” if "
        "it adds no information."
    ),
    "still_uploading": N_("Wait for the uploads to finish, or cancel them."),
    "not_a_photo": N_("{name}: not a photo (JPEG, PNG, GIF or WebP)."),
    "upload_failed": N_("upload failed ({status})"),
    "upload_unreached": N_("{name}: the upload did not reach the server."),
    "uploading_named": N_("Uploading {name}"),
    "paste_full_link": N_("Paste a full link, starting with https://"),
    "plain_link": N_("plain link"),
    "media_link": N_("Link: {title}"),
    "media_photo": N_("Photo: {alt}"),
    # -- published updates
    "published_updates": N_("Published updates"),
    "nothing_published": N_("Nothing published yet."),
    "load_older": N_("Load older updates"),
    "pinned": N_("Pinned"),
    "edit": N_("Edit"),
    "pin": N_("Pin"),
    "unpin": N_("Unpin"),
    "delete": N_("Delete"),
    "cancel": N_("Cancel"),
    "save": N_("Save"),
    "remove": N_("Remove"),
    "remove_named": N_("Remove {name}"),
    "photos_links": N_("Photos and links"),
    "edit_update": N_("Edit update"),
    "empty_update": N_("An update cannot be empty. Delete it instead."),
    "saved_toast": N_("Update saved."),
    "delete_confirm": N_("Delete this update? Readers will see it disappear."),
    "deleted_toast": N_("Update deleted."),
    "pinned_toast": N_("Pinned to the top."),
    "unpinned_toast": N_("Unpinned."),
    "key_toast": N_("Marked as key event."),
    "unkey_toast": N_("No longer a key event."),
    # -- errors of the API, as the studio tells them ({detail}: the API's own words)
    "went_wrong": N_("Something went wrong: {error}"),
    "token_no_longer_valid": N_("Your token is no longer valid."),
    "not_allowed": N_("Not allowed with this token: {detail}"),
    "too_long": N_("Too long: {detail}"),
    "please_fix": N_("Please fix: {detail}"),
    "not_found": N_("Not found: {detail}"),
    "server_problem": N_("The server had a problem ({status}). Try again in a moment."),
    "request_failed": N_("Request failed ({status})."),
    # -- the team desk (web/templates/studio_team.html, web/static/studio/desk.js): team's own
    "compose_submit": N_("Submit for review"),
    "compose_save_draft": N_("Save as draft"),
    "compose_saved_draft": N_("Draft saved for the team."),
    "compose_submitted": N_("Submitted for review."),
    "desk_title": N_("Team desk"),
    "desk_live": N_("live"),
    "desk_reconnecting": N_("reconnecting…"),
    "desk_signed_out": N_("signed out"),
    "presence_label": N_("In this console now"),
    "presence_you": N_("{name} (you)"),
    "queue_submitted": N_("Awaiting review"),
    "queue_submitted_empty": N_("Nothing is awaiting review."),
    "queue_drafts": N_("Drafts"),
    "queue_drafts_empty": N_("No drafts."),
    "queue_scheduled": N_("Scheduled"),
    "queue_scheduled_empty": N_("Nothing is scheduled."),
    "queue_deleted": N_("Deleted updates"),
    "queue_deleted_empty": N_("No deleted updates."),
    "status_submitted": N_("Awaiting review"),
    "status_draft": N_("Draft"),
    "status_scheduled": N_("Scheduled"),
    "status_deleted": N_("Deleted"),
    "desk_publishes_at": N_("Publishes at {time}"),
    "desk_is_editing": N_("Being edited by {names}"),
    "desk_edit": N_("Edit"),
    "desk_submit": N_("Submit for review"),
    "desk_publish_now": N_("Publish now"),
    "desk_schedule": N_("Schedule…"),
    "desk_to_draft": N_("Return to draft"),
    "desk_delete": N_("Delete"),
    "desk_restore": N_("Restore"),
    "desk_edit_label": N_("Edit update"),
    "desk_save": N_("Save"),
    "desk_cancel": N_("Cancel"),
    "desk_schedule_label": N_("Publish at"),
    "desk_schedule_confirm": N_("Schedule"),
    "desk_schedule_pick": N_("Pick a date and time in the future."),
    "desk_conflict": N_("Not possible now: {detail}"),
    "desk_done_submitted": N_("Submitted for review."),
    "desk_done_published": N_("Published: readers see it now."),
    "desk_done_scheduled": N_("Scheduled."),
    "desk_done_to_draft": N_("Returned to draft."),
    "desk_done_deleted": N_("Deleted."),
    "desk_done_restored": N_("Restored."),
    "desk_done_saved": N_("Saved."),
    "history_button": N_("History"),
    "history_title": N_("Earlier versions"),
    "history_empty": N_("No earlier versions: this update was never edited."),
    "history_version": N_("Version {n} · {time} · {who}"),
    "history_restore": N_("Restore this version"),
    "history_restored": N_("Version {n} restored: readers see it now."),
    "history_close": N_("Close"),
    # -- accounts in the studio (team's own)
    "email_label": N_("Email address"),
    "password_label": N_("Password"),
    "sign_in_account": N_("Log in"),
    "signin_token_title": N_("Or, for automation: a token"),
    "sign_out_everywhere": N_("Sign out everywhere"),
    "signed_out_everywhere": N_("Signed out on every device."),
    "login_missing": N_("Enter your email address and password."),
    "role_admin": N_("admin"),
    "role_editor": N_("editor"),
    "role_contributor": N_("contributor"),
    "session_ended": N_("Your session has ended. Sign in again — your draft is kept."),
    # -- people (admins; web/static/studio/people.js)
    "people_title": N_("People"),
    "people_add_title": N_("Add a person"),
    "people_name": N_("Name (their byline)"),
    "people_role": N_("Role"),
    "people_add": N_("Add person"),
    "people_link": N_("Link where they set a password — shown once, send it to them"),
    "people_needs_email": N_("An account needs an email address."),
    "people_created": N_("{name} can now sign in, once their password is set."),
    "people_role_here": N_("On this feed:"),
    "people_not_member": N_("not a member"),
    "people_disabled": N_("disabled"),
    "people_disable": N_("Disable"),
    "people_enable": N_("Enable"),
    "people_saved": N_("Role saved."),
    "people_disabled_toast": N_("Account disabled: signed out everywhere."),
    "people_enabled_toast": N_("Account enabled."),
}


@cache
def _strings_of(language: str) -> dict[str, Any]:
    return i18n.translate_table(STUDIO_MESSAGES, language)


def studio_strings(tag: str) -> dict[str, Any]:
    """Every studio string in the language of the locale ``tag`` (else English)."""
    return _strings_of(i18n.language_of(tag))


def studio_config(language: str) -> dict[str, Any]:
    """What the studio page hands its browser code: ``{"locale", "strings"}`` (plural
    messages as ``{category: form}``, picked with ``Intl.PluralRules(locale)``)."""
    return {"locale": language, "strings": studio_strings(language)}
