"""The Data page's burst capture: a live camera view that records a frame every so often into a
class, with thumbnails of what was recorded and a button to remove each bad frame."""

from __future__ import annotations

import streamlit as st

from pages import ui
from pages.camera import live_camera
from pages.data_audit import plural, preview
from tlcore.studio import BurstPace, BurstRecorder

RECORDER = "burst_recorder"  # this session's BurstRecorder (the camera thread feeds it)
TARGET = "burst_slot"  # the slot the frames being recorded go to
COUNT = "burst_count"  # pictures recorded in this session: numbers their file names
SHOWN = 60  # thumbnails (each with a remove button) shown for the chosen class
PER_ROW = 6
POLL_S = 0.5  # how often the page collects the recorded frames while recording


def section(slots: list[tuple[str, int]], shots: dict) -> None:
    """The burst recorder; recorded frames join ``shots[slot]`` as (file name, JPEG bytes), the
    list the snapshots use, so saving the dataset keeps them one file per frame."""
    if not st.toggle("Record bursts with the live camera", key="burst_on",
                     help="A live view of the camera that keeps a picture every few tenths of a second "
                          "while it records; your browser asks for permission."):
        _recorder().stop()
        return
    ss = st.session_state
    names = dict(slots)
    label = st.selectbox("Class to record into", list(names), key="burst_class",
                         help="The recorded pictures are added to this class.")
    every, count = st.columns(2)
    every_ms = every.number_input("One picture every (milliseconds)", 100, 5000, 250, step=50, key="burst_every",
                                  help="Move the object a little between pictures: varied views teach more.")
    limit = count.number_input("Stop after (pictures; 0 = when you press Stop)", 0, 500, 20, key="burst_limit",
                               help="Recording stops by itself after this many pictures.")
    if limit:
        st.caption(f"{limit} pictures, one every {every_ms} ms: about {limit * every_ms / 1000:.1f} s, when the "
                   "camera sends pictures at least that often.")
    recorder = _recorder()
    ctx = live_camera("burst_camera", recorder.offer)
    if not ctx.state.playing:
        recorder.stop()
        _collect(shots)
        st.caption("Press 'Start the camera', then 'Record'.")
    elif recorder.recording:
        if st.button("Stop recording", key="burst_stop", type="primary"):
            recorder.stop()
            _collect(shots)
            st.rerun()  # the counts drawn above the camera catch up
    elif st.button(f"Record into '{ui.md_safe(label)}'", key="burst_record", type="primary",
                   help="Keeps a picture every so often until you stop it or the count is reached."):
        _collect(shots)
        ss[TARGET] = names[label]
        recorder.start(int(every_ms), int(limit))
    _progress(shots, recorder.recording)
    if not recorder.recording and recorder.pace().kept > 1:
        st.caption(_pace_words(recorder.pace()))
    _thumbnails(label, names[label], shots)


def _recorder() -> BurstRecorder:
    return st.session_state.setdefault(RECORDER, BurstRecorder())


def _collect(shots: dict) -> int:
    """Move the frames recorded so far into the target class; how many were added."""
    frames = _recorder().take()
    slot = st.session_state.get(TARGET)
    if not frames or slot is None:
        return 0
    start = st.session_state.get(COUNT, 0)
    shots.setdefault(slot, []).extend((f"burst-{start + i + 1}.jpg", data) for i, data in enumerate(frames))
    st.session_state[COUNT] = start + len(frames)
    return len(frames)


def _progress(shots: dict, recording: bool) -> None:
    """While recording: collect frames every POLL_S and say how many; the whole page redraws once
    recording stops by itself, so the thumbnails and buttons catch up."""

    @st.fragment(run_every=POLL_S if recording else None)
    def follow() -> None:
        finished = recording and not _recorder().recording  # asked first: no frame comes after it
        _collect(shots)
        if finished:
            st.rerun()
        if recording:
            slot = st.session_state.get(TARGET)
            pace = _recorder().pace()
            st.caption(f"Recording… {plural(len(shots.get(slot, [])), 'picture')} in this class so far."
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


def _thumbnails(label: str, slot: int, shots: dict) -> None:
    """The chosen class's camera pictures, newest last, each with a button that removes it."""
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
            if column.button("Remove", key=f"burst_remove_{slot}_{index}", icon=":material/delete:",
                             help="Leave this picture out of the dataset."):
                kept.pop(index)
                st.rerun()
    if st.button(f"Remove all camera pictures of '{ui.md_safe(label)}'", key=f"burst_clear_{slot}"):
        shots[slot] = []
        st.rerun()
