CREATE INDEX "outbox_case_idx" ON "outbox" USING btree ("case_id","created_at");--> statement-breakpoint
CREATE INDEX "tasks_hsa_action_idx" ON "tasks" USING btree ("hsa_id","action");--> statement-breakpoint
CREATE INDEX "tasks_treserva_idx" ON "tasks" USING btree ("treserva_user");--> statement-breakpoint
CREATE INDEX "tasks_case_idx" ON "tasks" USING btree ("case_id");