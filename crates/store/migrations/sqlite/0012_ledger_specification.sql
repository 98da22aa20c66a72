-- The upstream's usage product (`AigcUsageDataItem.Specification`) a request was priced as,
-- on its hold and on the row that closes it: the reconciliation against the upstream's usage
-- data groups by it, as it was when the request was priced.
ALTER TABLE ledger ADD COLUMN specification TEXT;
