"""The transfer-learning studio in a browser: ``streamlit run app.py``."""

import streamlit as st

from pages import ui

st.set_page_config(page_title="Transfer-learning studio", page_icon=":material/school:", layout="wide")
current = st.navigation([st.Page(ui.page(name), title=title, icon=icon) for name, title, icon in ui.STEPS])
ui.keep_settings()
with ui.friendly_errors():
    ui.sidebar()
ui.show_flash()
with ui.friendly_errors(), ui.routed():
    current.run()
