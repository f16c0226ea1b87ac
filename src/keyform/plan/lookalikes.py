"""Emails that look like other emails: characters from another script mixed into a Latin address
(a Cyrillic o, U+043E, for the first letter of owner@acme.example), or characters drawn to look
like ASCII ones.

Such an address is a different user to the API and the same one to a reviewer's eye. The script
of each character and its lookalikes come from Unicode's data (confusable-homoglyphs ships the
tables of UTS #39), loaded only when an email holds a character outside ASCII.
"""

from __future__ import annotations

import unicodedata

_HARMLESS_SCRIPTS = ("LATIN", "COMMON")


def lookalike_characters(email: str) -> list[str]:
    """The characters of `email` a reader may take for others, in order of appearance (none if ASCII)."""
    if email.isascii():
        return []
    from confusable_homoglyphs import categories, confusables

    has_latin = any(character.isascii() and character.isalpha() for character in email)
    found = []
    for character in dict.fromkeys(email):
        if character.isascii():
            continue
        other_script = has_latin and categories.alias(character) not in _HARMLESS_SCRIPTS
        looks_ascii = unicodedata.normalize("NFKC", character).isascii() or bool(
            confusables.is_confusable(character, preferred_aliases=["latin"])
        )
        if other_script or looks_ascii:
            found.append(character)
    return found


def looks_like(email: str, characters: list[str]) -> str:
    """`email` with each lookalike character replaced by the ASCII one it imitates, where known."""
    from confusable_homoglyphs import confusables

    plain = email
    for character in characters:
        ascii_form = unicodedata.normalize("NFKC", character)
        if not ascii_form.isascii():
            found = confusables.is_confusable(character, preferred_aliases=["latin"]) or []
            glyphs = [glyph["c"] for match in found for glyph in match["homoglyphs"] if glyph["c"].isascii()]
            ascii_form = glyphs[0] if glyphs else character
        plain = plain.replace(character, ascii_form)
    return plain


def describe(character: str) -> str:
    """`U+043E CYRILLIC SMALL LETTER O`."""
    return f"U+{ord(character):04X} {unicodedata.name(character, 'UNNAMED CHARACTER')}"
