import imageio.v2 as imageio
import pytest

from skillmimic.cli import main


@pytest.mark.slow
def test_data_render_writes_playable_mp4(tmp_path, ballplay, capsys):
    video = tmp_path / "pass.mp4"
    assert (
        main(["data", "render", str(ballplay / "pass"), "--video", str(video), "--width", "160", "--height", "120"])
        == 0
    )
    assert "51 frames" in capsys.readouterr().out
    reader = imageio.get_reader(video)
    assert reader.count_frames() == 51
    assert reader.get_meta_data()["fps"] == 60
    frame = reader.get_data(25)
    assert frame.shape == (120, 160, 3) and frame.std() > 5  # not a blank image
