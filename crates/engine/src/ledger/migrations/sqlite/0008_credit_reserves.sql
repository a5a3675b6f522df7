-- credits each API server of a farm holds back from the balance row, so that its groups of
-- dispatches debit a row of their own instead of all queueing on one (issue 31). The balance
-- is credit_balance plus every reserve; a reserve's credits are still the studio's. (One
-- machine's ledger has one writer and no reserves; the table keeps the schemas one.)

CREATE TABLE credit_reserves (
    slot    INTEGER PRIMARY KEY,
    credits INTEGER NOT NULL
);
