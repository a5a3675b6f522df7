-- rate limits a farm's API servers share: requests per key per fixed window.

CREATE TABLE rate_windows (
    subject   TEXT NOT NULL,
    window_no INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (subject, window_no)
) WITHOUT ROWID;
