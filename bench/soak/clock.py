"""The soak's one clock: seconds since it began (what every figure and fault window uses),
and log lines that carry the wall-clock time too, to line them up with .dapr/logs."""

import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self.began = time.monotonic()
        self.began_utc = datetime.now(UTC)  # dead letters received before this are not the soak's

    def now(self) -> float:
        return time.monotonic() - self.began

    def log(self, message: str) -> None:
        print(f"soak {datetime.now().strftime('%H:%M:%S.%f')[:-3]} +{self.now():6.1f}s  {message}", flush=True)
