-- Migration 8: a deal recorded by mistake is voided, never deleted (the audit trail and
-- the customer's history keep it). Reports count and sum live deals only, per currency.
ALTER TABLE deals ADD COLUMN voided_at INTEGER;
ALTER TABLE deals ADD COLUMN voided_by INTEGER REFERENCES users(id);
ALTER TABLE deals ADD COLUMN void_reason TEXT;

-- Per owner and currency, live deals only: report owners/teams sum from the index.
CREATE INDEX deals_user_currency ON deals(user_id, currency, amount_minor)
    WHERE voided_at IS NULL;
