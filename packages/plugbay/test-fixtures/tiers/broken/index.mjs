// Test fixture: a module without a definePlugin() default export.
export const notAPlugin = true;
