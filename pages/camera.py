"""The live camera component (streamlit-webrtc), set up once for the studio: no STUN or TURN
server, so it works on this computer or the local network without internet."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from streamlit_webrtc import WebRtcMode, webrtc_streamer

NO_NETWORK = {"iceServers": []}  # browser and server meet directly (localhost or LAN)
# 640x480 at 15 frames a second is plenty to see and to record, and leaves the processor to the model.
CONSTRAINTS = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 15}},
               "audio": False}
VIEW = {"autoPlay": True, "controls": False, "muted": True, "style": {"width": "100%", "maxWidth": "640px"}}
WORDS = {"start": "Start the camera", "stop": "Stop the camera", "select_device": "Choose a camera",
         "device_ask_permission": "Allow this page to use the camera when your browser asks.",
         "device_not_available": "No camera was found; plug one in or use another device.",
         "device_access_denied": "The browser refused the camera; allow it in the address bar and try again.",
         "media_api_not_available": "This browser cannot share a camera here; open the studio at "
                                    "http://localhost or over https."}


def live_camera(key: str, on_frame: Callable[[np.ndarray], None]):
    """The camera view; ``on_frame(rgb)`` gets every frame (uint8 [H, W, 3]) on the camera's
    thread. Returns streamlit-webrtc's context (``.state.playing``)."""

    def callback(frame):
        on_frame(frame.to_ndarray(format="rgb24"))
        return frame

    return webrtc_streamer(key=key, mode=WebRtcMode.SENDRECV, rtc_configuration=NO_NETWORK,
                           media_stream_constraints=CONSTRAINTS, video_frame_callback=callback,
                           translations=WORDS, video_html_attrs=VIEW)
