-- rate limits a farm's API servers share: requests per key per fixed window.

CREATE TABLE rate_windows (
    subject   TEXT NOT NULL,
    window_no BIGINT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (subject, window_no)
);
