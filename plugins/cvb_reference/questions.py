"""Reading what a question asks, with plain rules: which object, which word, text or objects.

The reference models cannot understand language; they answer a few question *shapes*
(object existence, "is the word X written", "what does the text say") and this module
recognises those shapes. Pure Python, no heavy imports, so routing is cheap and testable.
"""

from __future__ import annotations

import re
import unicodedata

from cvb.types import AnswerKind

_ARTICLES = r"(?:a|an|any|some|the|one|two|several|many)"
_PLACE = r"(?:image|picture|photo|photograph|scene|frame|view|img)"

#: "Is there a cat in the image?", "Are there glasses in this photo?", "Is there coffee ..."
_EXISTENCE = (
    re.compile(rf"^(?:is|are)\s+there\s+(?:{_ARTICLES}\s+)?(?P<obj>.+?)"
               rf"(?:\s+(?:visible|shown|present|depicted))?\s+(?:in|on|inside|within)\s+"
               rf"(?:the|this|that)\s+{_PLACE}\b"),
    re.compile(rf"^(?:is|are)\s+there\s+(?:{_ARTICLES}\s+)?(?P<obj>.+?)\s*$"),
    re.compile(rf"^(?:does|do)\s+(?:the|this|that)\s+{_PLACE}\s+(?:show|contain|include|have|"
               rf"depict|feature)s?\s+(?:{_ARTICLES}\s+)?(?P<obj>.+?)\s*$"),
    re.compile(rf"^(?:can|do)\s+(?:you|we)\s+see\s+(?:{_ARTICLES}\s+)?(?P<obj>.+?)"
               rf"(?:\s+(?:in|on)\s+(?:the|this|that)\s+{_PLACE}\b.*)?$"),
    re.compile(rf"^(?:is|are)\s+(?:this|that|it|these|those)\s+(?:(?:a|an)\s+)?"
               rf"(?:(?:{_PLACE})\s+of\s+)?(?:{_ARTICLES}\s+)?(?P<obj>.+?)\s*$"),
    re.compile(rf"^(?:is|are)\s+(?:{_ARTICLES}\s+)?(?P<obj>.+?)\s+(?:visible|present|shown|depicted)"
               rf"(?:\s+(?:in|on)\s+(?:the|this|that)\s+{_PLACE}\b.*)?$"),
)

#: last resort: the noun phrase an article introduces ("Do you think an umbrella is visible?")
_ARTICLE_PHRASE = re.compile(r"\b(?:a|an|any|some)\s+(?P<obj>[a-z][a-z\- ]*?)(?=\s+(?:is|are|in|on|"
                             r"visible|present|shown|here|there|anywhere)\b|\s*$)")

_STOP = {
    "is", "are", "there", "a", "an", "the", "any", "some", "in", "on", "of", "this", "that", "it",
    "image", "picture", "photo", "photograph", "scene", "does", "do", "show", "contain", "visible",
    "you", "see", "can", "please", "answer", "question", "using", "single", "word", "phrase",
}

#: words that make any question one about text in the image (OCR) rather than about objects
STRONG_TEXT_CUES = frozenset({
    "text", "texts", "word", "words", "written", "write", "writes", "writing", "read", "reads",
    "say", "says", "said", "letter", "letters", "character", "characters", "spell", "spelled",
    "spelt", "printed", "inscription", "ocr", "title", "heading", "headline",
})
#: words that make an OPEN question one about text ("What number is on the bus?") but not a
#: yes/no one ("Is there a stop sign in the image?" is about an object)
WEAK_TEXT_CUES = frozenset({
    "line", "lines", "paragraph", "sentence", "code", "number", "numbers", "digits", "name",
    "surname", "brand", "label", "labelled", "labeled", "sign", "logo", "caption",
})

#: OPEN questions that ask what the picture shows: answered by the tagger even with a cue word
_WHAT_IS_SHOWN = re.compile(
    rf"^(?:what|which)\s+(?:(?:is|are)\s+(?:this|these|that|it|shown|depicted|pictured|in|on)\b|"
    rf"(?:object|objects|animal|animals|thing|things|item|items|kind|type|sort|category|class)\b|"
    rf"(?:does|do)\s+(?:the|this)\s+{_PLACE}\s+(?:show|depict|contain)\b)")

#: quotes that open after a non-letter and close before one, so "dog's" is no quote
_QUOTED = re.compile(r"(?<!\w)[\"“‘'`]\s*(?P<q>[^\"“”‘’'`]+?)\s*[\"”’'`](?!\w)")
_AFTER_WORD = re.compile(r"\b(?:word|words|text|phrase|string|name|letters)\s+(?P<q>[\w\-\.&]+)",
                         re.IGNORECASE)


def clean(text: str) -> str:
    """NFKC, lowercase, single spaces, no trailing question mark or period."""
    text = unicodedata.normalize("NFKC", text or "")
    text = re.sub(r"\s+", " ", text).strip().lower()
    return text.rstrip(" ?.!")


def first_sentence(prompt: str) -> str:
    """The question itself: prompts may carry lettered options or an instruction after it.

    cvb's own answer instructions ("Answer the question using a single word or phrase.", whose
    "word" would read as a text cue) are removed even when they share the question's line.
    """
    from cvb.prompts import SUFFIX

    text = prompt or ""
    for suffix in SUFFIX.values():
        if suffix:
            text = text.replace(suffix, "\n")
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def object_phrase(question: str) -> str:
    """The object a yes/no existence question asks about ("" if none can be found).

    Recognises the POPE shape "Is there a X in the image?" and its usual variants ("Are there
    X ...", "Does the image show X?", "Can you see X?", "Is this a photo of X?"); otherwise the
    noun phrase an article introduces ("... an umbrella is visible"), else the last content
    words of the question.
    """
    q = clean(first_sentence(question))
    for pattern in _EXISTENCE:
        m = pattern.match(q)
        if m and m.group("obj").strip():
            return _strip_articles(m.group("obj"))
    m = _ARTICLE_PHRASE.search(q)
    if m and m.group("obj").strip():
        return m.group("obj").strip()
    content = [w for w in re.findall(r"[a-z][a-z\-']*", q) if w not in _STOP]
    return " ".join(content[-2:])


def _strip_articles(phrase: str) -> str:
    phrase = re.sub(rf"^(?:{_ARTICLES})\s+", "", phrase.strip())
    return phrase.strip(" ,;:")


def quoted_target(question: str) -> str | None:
    """The literal text a question asks about: 'quoted', or the token after "word"/"text"."""
    q = unicodedata.normalize("NFKC", first_sentence(question))
    m = _QUOTED.search(q)
    if m:
        return m.group("q").strip()
    m = _AFTER_WORD.search(q)
    if m and m.group("q").lower() not in _STOP | {"written", "printed", "shown", "that", "which"}:
        return m.group("q").strip(".")
    return None


def _words(question: str) -> set[str]:
    return set(re.findall(r"[a-z]+", clean(first_sentence(question))))


def has_text_cue(question: str, weak: bool = False) -> bool:
    cues = STRONG_TEXT_CUES | WEAK_TEXT_CUES if weak else STRONG_TEXT_CUES
    return bool(_words(question) & cues)


def asks_what_is_shown(question: str) -> bool:
    return bool(_WHAT_IS_SHOWN.match(clean(first_sentence(question))))


def is_text_question(prompt: str, kind: AnswerKind) -> bool:
    """The routing rule of the combined ``reference`` model (see docs/vlm-reference.md).

    OPEN and CAPTION questions go to the OCR reader when they contain a text cue word, strong
    (text, word, written, read, says, letters, title, ...) or weak (line, code, number, name,
    brand, sign, label, ...), unless they ask what the picture shows ("What is in the image?",
    "What animal is this?"). YES/NO and CHOICE questions go to it only with a strong cue ("Is
    the word 'STOP' written ...?"), so "Is there a stop sign?" stays an object question.
    Everything else goes to the tagger.
    """
    if kind in (AnswerKind.OPEN, AnswerKind.CAPTION):
        return has_text_cue(prompt, weak=True) and not asks_what_is_shown(prompt)
    return has_text_cue(prompt)
