"""The live camera component (streamlit-webrtc), set up once for the studio: no STUN or TURN
server, so it works on this computer or the local network without internet."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from streamlit_webrtc import WebRtcMode, webrtc_streamer

NO_NETWORK = {"iceServers": []}  # browser and server meet directly (localhost or LAN)
# 640x480 at 15 frames a second is plenty to see and to record. Every frame is decoded and encoded
# again on the server, so the live answer asks for 320x240 (still over the model's 224 pixels): on
# 2 cores a bare streamlit-webrtc page got 15.6 frames a second through at 320x240, 6.7 at 640x480.
CONSTRAINTS = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 15}},
               "audio": False}
SMALL = {"video": {"width": {"ideal": 320}, "height": {"ideal": 240}, "frameRate": {"ideal": 15}}, "audio": False}
VIEW = {"autoPlay": True, "controls": False, "muted": True, "style": {"width": "100%", "maxWidth": "640px"}}
WORDS = {"start": "Start the camera", "stop": "Stop the camera", "select_device": "Choose a camera",
         "device_ask_permission": "Allow this page to use the camera when your browser asks.",
         "device_not_available": "No camera was found; plug one in or use another device.",
         "device_access_denied": "The browser refused the camera; allow it in the address bar and try again.",
         "media_api_not_available": "This browser cannot share a camera here; open the studio at "
                                    "http://localhost or over https."}


def live_camera(key: str, on_frame: Callable[[np.ndarray], None], constraints: dict = CONSTRAINTS):
    """The camera view; ``on_frame(rgb)`` gets every frame (uint8 [H, W, 3]) on the camera's
    thread. Returns streamlit-webrtc's context (``.state.playing``)."""

    def callback(frame):
        on_frame(frame.to_ndarray(format="rgb24"))
        return frame

    return webrtc_streamer(key=key, mode=WebRtcMode.SENDRECV, rtc_configuration=NO_NETWORK,
                           media_stream_constraints=constraints, video_frame_callback=callback,
                           translations=WORDS, video_html_attrs=VIEW)
