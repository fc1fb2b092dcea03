"""The transfer-learning studio in a browser: ``streamlit run app.py``."""

import streamlit as st

from pages import ui
from tlcore.worker import keep_warm

st.set_page_config(page_title="Transfer-learning studio", page_icon=":material/school:", layout="wide")
unlocked = ui.password_gate()  # before anything else runs or shows, the worker included
current = st.navigation([st.Page(ui.page(name), title=title, icon=icon) for name, title, icon in ui.STEPS],
                        position="sidebar" if unlocked else "hidden")
if not unlocked:
    st.stop()
ui.keep_settings()
with ui.friendly_errors():
    keep_warm()  # a worker imports torch and loads the default model while the user uploads
    ui.sidebar()
ui.show_flash()
with ui.friendly_errors(), ui.routed():
    current.run()
