DROP INDEX "tasks_hsa_live_uq";--> statement-breakpoint
ALTER TABLE "cases" ADD COLUMN "sender_verified" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "cases" ADD COLUMN "refers_to_ref" text;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "auth_verdict" text DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "auth_detail" text;--> statement-breakpoint
ALTER TABLE "persons" ADD COLUMN "intent" text DEFAULT 'grant' NOT NULL;--> statement-breakpoint
ALTER TABLE "persons" ADD COLUMN "hsa_note" text;--> statement-breakpoint
ALTER TABLE "persons" ADD COLUMN "corrected_by" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "action" text DEFAULT 'grant' NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "sender_verified" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "hsa_note" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "corrected_by" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "done_by" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "confirmed_by" text;--> statement-breakpoint
CREATE INDEX "outbox_mailbox_idx" ON "outbox" USING btree (regexp_replace(lower("to_addr"), '[+][^@]*@', '@'),"created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_action_hsa_live_uq" ON "tasks" USING btree ("action","hsa_id") WHERE status <> 'cancelled' and hsa_id <> '';