"""The Data page's burst capture: a live camera view that records a frame every so often into a
class (or into the unlabelled pool), with thumbnails of what was recorded and a button to remove each
bad frame. Each place that records has its own key (``burst`` for classes, ``pool_burst`` for the
pool): its own switch, recorder and camera."""

from __future__ import annotations

import streamlit as st

from pages import ui
from pages.camera import live_camera
from pages.data_audit import plural, preview
from tlcore.studio import BurstPace, BurstRecorder

SHOWN = 60  # thumbnails (each with a remove button) shown for the chosen class
PER_ROW = 6
POLL_S = 0.5  # how often the page collects the recorded frames while recording


def section(slots: list[tuple[str, object]], shots: dict, key: str = "burst") -> None:
    """The burst recorder; recorded frames join ``shots[slot]`` as (file name, JPEG bytes), the
    list the snapshots use, so saving keeps them one file per frame. ``slots`` are (name, slot) of
    the places to record into; with one, there is nothing to choose."""
    if not st.toggle("Record bursts with the live camera", key=f"{key}_on",
                     help="A live view of the camera that keeps a picture every few tenths of a second "
                          "while it records; your browser asks for permission."):
        _recorder(key).stop()
        return
    ss = st.session_state
    names = dict(slots)
    label = next(iter(names)) if len(names) == 1 else st.selectbox(
        "Class to record into", list(names), key=f"{key}_class", help="The recorded pictures are added to this class.")
    every, count = st.columns(2)
    every_ms = every.number_input("One picture every (milliseconds)", 100, 5000, 250, step=50, key=f"{key}_every",
                                  help="Move the object a little between pictures: varied views teach more.")
    limit = count.number_input("Stop after (pictures; 0 = when you press Stop)", 0, 500, 20, key=f"{key}_limit",
                               help="Recording stops by itself after this many pictures.")
    if limit:
        st.caption(f"{limit} pictures, one every {every_ms} ms: about {limit * every_ms / 1000:.1f} s, when the "
                   "camera sends pictures at least that often.")
    recorder = _recorder(key)
    ctx = live_camera(f"{key}_camera", recorder.offer)
    if not ctx.state.playing:
        recorder.stop()
        _collect(key, shots)
        st.caption("Press 'Start the camera', then 'Record'.")
    elif recorder.recording:
        if st.button("Stop recording", key=f"{key}_stop", type="primary"):
            recorder.stop()
            _collect(key, shots)
            st.rerun()  # the counts drawn above the camera catch up
    elif st.button(f"Record into '{ui.md_safe(label)}'", key=f"{key}_record", type="primary",
                   help="Keeps a picture every so often until you stop it or the count is reached."):
        _collect(key, shots)
        ss[f"{key}_slot"] = names[label]
        recorder.start(int(every_ms), int(limit))
    _progress(key, shots, recorder.recording)
    if not recorder.recording and recorder.pace().kept > 1:
        st.caption(_pace_words(recorder.pace()))
    _thumbnails(key, label, names[label], shots)


def _recorder(key: str) -> BurstRecorder:
    """This session's recorder for ``key`` (the camera thread feeds it)."""
    return st.session_state.setdefault(f"{key}_recorder", BurstRecorder())


def _collect(key: str, shots: dict) -> int:
    """Move the frames recorded so far into the target slot (``{key}_slot``); how many were added.
    ``{key}_count`` numbers the pictures' file names in this session."""
    frames = _recorder(key).take()
    slot = st.session_state.get(f"{key}_slot")
    if not frames or slot is None:
        return 0
    start = st.session_state.get(f"{key}_count", 0)
    shots.setdefault(slot, []).extend((f"burst-{start + i + 1}.jpg", data) for i, data in enumerate(frames))
    st.session_state[f"{key}_count"] = start + len(frames)
    return len(frames)


def _progress(key: str, shots: dict, recording: bool) -> None:
    """While recording: collect frames every POLL_S and say how many; the whole page redraws once
    recording stops by itself, so the thumbnails and buttons catch up."""

    @st.fragment(run_every=POLL_S if recording else None)
    def follow() -> None:
        finished = recording and not _recorder(key).recording  # asked first: no frame comes after it
        _collect(key, shots)
        if finished:
            st.rerun()
        if recording:
            slot = st.session_state.get(f"{key}_slot")
            pace = _recorder(key).pace()
            st.caption(f"Recording… {plural(len(shots.get(slot, [])), 'picture')} so far."
                       + (f" {_slow(pace)}" if pace.slower else ""))

    follow()


def _slow(pace: BurstPace) -> str:
    return (f"The camera sends only about {pace.camera_fps:.1f} pictures a second on this computer (a busy "
            f"processor, or a camera in dim light, sends fewer), so they come about every "
            f"{1000 * pace.seconds / (pace.kept - 1):.0f} ms instead of every {1000 * pace.every_s:.0f} ms.")


def _pace_words(pace: BurstPace) -> str:
    """How the last burst went, and why it took longer than asked when it did."""
    took = f"Last burst: {pace.kept} pictures in {pace.seconds:.1f} s"
    return f"{took}. {_slow(pace)}" if pace.slower else f"{took}, one every {1000 * pace.every_s:.0f} ms as asked."


def _thumbnails(key: str, label: str, slot: object, shots: dict) -> None:
    """The chosen slot's camera pictures, newest last, each with a button that removes it."""
    kept = shots.get(slot, [])
    if not kept:
        st.caption(f"No camera pictures in '{ui.md_safe(label)}' yet.")
        return
    first = max(0, len(kept) - SHOWN)
    st.markdown(f"**Camera pictures of '{ui.md_safe(label)}'** ({len(kept)}); remove the blurred or "
                "wrong ones." + (f" The last {SHOWN} are shown." if first else ""))
    for row in range(first, len(kept), PER_ROW):
        for column, index in zip(st.columns(PER_ROW), range(row, min(row + PER_ROW, len(kept)))):
            name, data = kept[index]
            thumb = preview(data)
            if thumb is not None:
                column.image(thumb, caption=name, width=ui.THUMB_PX)
            if column.button("Remove", key=f"{key}_remove_{slot}_{index}", icon=":material/delete:",
                             help="Leave this picture out of the dataset."):
                kept.pop(index)
                st.rerun()
    if st.button(f"Remove all camera pictures of '{ui.md_safe(label)}'", key=f"{key}_clear_{slot}"):
        shots[slot] = []
        st.rerun()
