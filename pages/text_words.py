"""Which words moved a text model's answer, drawn as the text with its words highlighted (green: the
word raised the answer; red: it lowered it; the stronger the colour, the more), for Evaluate's picked
text and the Use page's typed one. The text is escaped: its own markup shows as written."""

from __future__ import annotations

import streamlit as st

from pages import ui
from tlcore.studio import RunDir, TextPredictor, WordEffects, load_text_predictor, model_changed, word_effects

RAISES, LOWERS = "0, 158, 115", "213, 94, 0"  # green and vermilion (told apart with colour blindness too)
FULL = 0.25  # an effect (in probability) drawn at full strength; smaller ones fade, none is drawn stronger
STRONGEST = 3  # words named under the text, each way
BUTTON = "Show which words moved the answer"
HOW = ("Each word is left out in turn and the text classified again by the saved model: a green word raised "
       "its answer, a red one lowered it, and the stronger the colour, the more.")
ANSWER = "The saved model's answer: {answer}."
RAISED, NONE_RAISED = "Raised it most: {words}.", "No word raised it."
LOWERED, NONE_LOWERED = "Lowered it most: {words}.", "No word lowered it."
IN_POINTS = "In points of probability, when the word is left out."


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _predictor(run_dir: str, changed: float) -> TextPredictor:
    """The run's model, loaded once; ``changed`` (the weights file's time) makes a new bundle load anew."""
    return load_text_predictor(run_dir)


def predictor(run: RunDir) -> TextPredictor:
    """The run's text model, loaded once for every page that classifies texts."""
    return _predictor(str(run.path), model_changed(run))


@st.cache_data(show_spinner="Weighing each word…", max_entries=16)
def _effects(run_dir: str, changed: float, text: str) -> WordEffects:
    return word_effects(_predictor(run_dir, changed), text)


def section(run: RunDir, text: str, key: str) -> None:
    """A button that draws which words of ``text`` moved the saved model's answer (kept shown for this
    text until another is picked)."""
    chosen = (str(run.path), text)
    if st.button(BUTTON, key=f"words_{key}", help=HOW):
        st.session_state[f"words_{key}_shown"] = chosen
    if st.session_state.get(f"words_{key}_shown") != chosen:
        return
    with ui.friendly_errors():
        draw(_effects(str(run.path), model_changed(run), text))


def _span(word: str, effect: float | None) -> str:
    """A piece of the text as Markdown: escaped, and a word highlighted by its effect."""
    shown = ui.md_safe(word)
    if effect is None:
        return shown
    colour, strength = (RAISES if effect > 0 else LOWERS), min(1.0, abs(effect) / FULL)
    return (f'<span style="background-color: rgba({colour}, {0.6 * strength:.2f}); border-radius: 3px" '
            f'title="{100 * effect:+.0f} points">{shown}</span>')


def draw(effects: WordEffects) -> None:
    """The text with its weighed words highlighted, and the words that moved the answer most named."""
    st.markdown("".join(_span(w, e) for w, e in effects.pieces) + (" …" if effects.cut else ""),
                unsafe_allow_html=True)  # every piece of the text is escaped (md_safe): only the spans are HTML
    ranked = effects.ranked()
    up = [f"{ui.md_safe(w)} ({100 * e:+.0f})" for w, e in ranked if e > 0][:STRONGEST]
    down = [f"{ui.md_safe(w)} ({100 * e:+.0f})" for w, e in ranked if e < 0][:STRONGEST]
    answer = f"'{ui.md_safe(effects.answer)}' ({effects.probability:.0%})"
    said = [ANSWER.format(answer=answer), RAISED.format(words=", ".join(up)) if up else NONE_RAISED,
            LOWERED.format(words=", ".join(down)) if down else NONE_LOWERED, IN_POINTS, effects.cut]
    st.caption(" ".join(filter(None, said)))
