-- The example's app tables, to try examples/postgresql/keyform.yaml on a scratch database:
--   psql "$DATABASE_URL" -f examples/postgresql/app.sql
CREATE TABLE employees (id serial PRIMARY KEY, name text, department text, salary numeric, iban text);
CREATE TABLE customers (id serial PRIMARY KEY, name text);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, total numeric);
INSERT INTO employees (name, department, salary, iban) VALUES ('Ada', 'R&D', 90000, 'DE89370400440532013000');
INSERT INTO orders (customer_id, total) VALUES (1, 10);
