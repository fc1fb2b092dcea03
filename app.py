"""The transfer-learning studio in a browser: ``streamlit run app.py``."""

import streamlit as st

from pages import nav

st.set_page_config(page_title="Transfer-learning studio", page_icon=":material/school:", layout="wide")
st.html(nav.ONE_STOP)
unlocked = nav.password_gate()  # before anything else runs or shows, the worker included
current = nav.navigation(unlocked)  # the seven steps show at once, before PyTorch is imported
if not unlocked:
    st.stop()
with st.spinner(nav.LOADING, show_time=True):
    from pages import ui
    from tlcore.studio import keep_warm
if not ui.workspace_ready():  # a folder it cannot write: one line saying so, not an error on every page
    st.stop()
ui.keep_settings()
with ui.friendly_errors():
    ui.sidebar()
ui.show_flash()
with ui.friendly_errors(), nav.routed():
    current.run()
with ui.friendly_errors():
    # A worker imports torch and loads the default model while the user uploads: started once the
    # page is drawn, so that on a machine of few cores it does not slow the page's first paint.
    keep_warm()
