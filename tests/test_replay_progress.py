"""Progress shows as a rich bar on a terminal and as throttled plain lines elsewhere."""

import io

from consumer.cli._progress import PlainProgress, progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_plain_lines_are_at_most_one_a_second_and_one_at_the_end() -> None:
    """Ten units over 2.5 s: a line at 1 s and 2 s, then the final one with rate and ETA."""
    now = [0.0]
    out = io.StringIO()
    shown = PlainProgress(10, "replaying", out, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 0.25
        shown.advance()
    shown.close()
    assert out.getvalue().splitlines() == [
        "replaying 4/10 (40%), 4.0/s, ETA 2s",
        "replaying 8/10 (80%), 4.0/s, ETA 0s",
        "replaying 10/10 (100%), 4.0/s, ETA 0s",
    ]


def test_a_pipe_gets_plain_lines() -> None:
    """Not a terminal: the plain form, whatever is installed."""
    assert isinstance(progress(3, "replaying", stream=io.StringIO()), PlainProgress)


def test_a_terminal_gets_a_bar_with_count_and_rate() -> None:
    """On a terminal (rich installed), the bar shows the verb, done/total and the rate."""
    out = Terminal()
    shown = progress(3, "replaying", stream=out)
    assert not isinstance(shown, PlainProgress)
    for _ in range(3):
        shown.advance()
    shown.close()
    text = out.getvalue()
    assert "replaying" in text
    assert "3/3" in text
    assert "/s" in text
