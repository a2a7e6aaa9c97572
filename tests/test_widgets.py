"""Sliders: setting a value in the kernel redraws the picture and its label."""

from minidiff import plot, widgets


def draw(shift):
    fig, ax = plot.figure()
    ax.plot([0, 1], [shift, shift + 1])
    return fig


def test_setting_a_slider_redraws_image_and_label():
    ui = widgets.FigureControls(draw, lambda shift: f"shift = {shift:.2f}",
                                {"shift": widgets.slider("shift", 0.0, 1.0, 0.0, 0.1)})
    before, label = ui.image.value, ui.label.value
    assert before[:8] == b"\x89PNG\r\n\x1a\n" and label == "shift = 0.00"
    ui.controls["shift"].value = 0.7
    assert ui.image.value != before and ui.label.value == "shift = 0.70"
    assert 0 < ui.last_draw_seconds < 5
