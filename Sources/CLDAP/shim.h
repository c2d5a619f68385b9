#include <ldap.h>
#include <lber.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/// LDAP_OPT_ON and LDAP_OPT_OFF are pointer macros that Swift cannot import.
static inline int charter_ldap_set_flag(LDAP *ld, int option, int on) {
    return ldap_set_option(ld, option, on ? LDAP_OPT_ON : LDAP_OPT_OFF);
}

/// ldap_set_option for an int-valued option.
static inline int charter_ldap_set_int(LDAP *ld, int option, int value) {
    return ldap_set_option(ld, option, &value);
}

/// ldap_set_option for a string-valued option.
static inline int charter_ldap_set_string(LDAP *ld, int option, const char *value) {
    return ldap_set_option(ld, option, value);
}

/// ldap_set_option for a struct timeval option (LDAP_OPT_TIMEOUT, LDAP_OPT_NETWORK_TIMEOUT).
static inline int charter_ldap_set_timeout(LDAP *ld, int option, long milliseconds) {
    struct timeval tv;
    tv.tv_sec = milliseconds / 1000;
    tv.tv_usec = (milliseconds % 1000) * 1000;
    return ldap_set_option(ld, option, &tv);
}

/// The handle's last result code (LDAP_OPT_RESULT_CODE).
static inline int charter_ldap_result_code(LDAP *ld) {
    int code = LDAP_OTHER;
    ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &code);
    return code;
}

/// The handle's last diagnostic message, or NULL; free it with ldap_memfree.
static inline char *charter_ldap_diagnostic_message(LDAP *ld) {
    char *message = NULL;
    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &message);
    return message;
}

/// Simple bind (LDAP_SASL_SIMPLE is a pointer macro); a password of length 0 is an anonymous bind.
static inline int charter_ldap_simple_bind(LDAP *ld, const char *dn, const char *password, size_t length) {
    struct berval credentials;
    credentials.bv_val = (char *)password;
    credentials.bv_len = length;
    return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &credentials, NULL, NULL, NULL);
}

/// ldap_result waiting at most `milliseconds`; 0 means the wait timed out.
static inline int charter_ldap_result(LDAP *ld, int msgid, int all, long milliseconds, LDAPMessage **result) {
    struct timeval tv;
    tv.tv_sec = milliseconds / 1000;
    tv.tv_usec = (milliseconds % 1000) * 1000;
    return ldap_result(ld, msgid, all, &tv, result);
}

/// ldap_search_ext with a client and server time limit in whole seconds.
static inline int charter_ldap_search(LDAP *ld, const char *base, int scope, const char *filter, char **attributes,
                                      LDAPControl **serverControls, int seconds, int *msgid) {
    struct timeval tv;
    tv.tv_sec = seconds;
    tv.tv_usec = 0;
    return ldap_search_ext(ld, base, scope, filter, attributes, 0, serverControls, NULL, &tv, 0, msgid);
}

/// A control with a BER-encoded value, for controls libldap has no constructor for.
static inline int charter_ldap_control(const char *oid, const char *value, size_t length, int critical,
                                       LDAPControl **control) {
    struct berval bv;
    bv.bv_val = (char *)value;
    bv.bv_len = length;
    return ldap_control_create(oid, critical, value ? &bv : NULL, 1, control);
}

/// The BER value { INTEGER flag } of the extended DN control (1.2.840.113556.1.4.529).
static inline int charter_ldap_extended_dn_control(int flag, LDAPControl **control) {
    BerElement *ber = ber_alloc_t(LBER_USE_DER);
    if (ber == NULL) return LDAP_NO_MEMORY;
    if (ber_printf(ber, "{i}", (ber_int_t)flag) == -1) {
        ber_free(ber, 1);
        return LDAP_ENCODING_ERROR;
    }
    struct berval *value = NULL;
    if (ber_flatten(ber, &value) == -1) {
        ber_free(ber, 1);
        return LDAP_ENCODING_ERROR;
    }
    ber_free(ber, 1);
    int rc = ldap_control_create("1.2.840.113556.1.4.529", 0, value, 1, control);
    ber_bvfree(value);
    return rc;
}

/// An LDAPMod of binary values for add and modify; free it with charter_ldap_mod_free.
static inline LDAPMod *charter_ldap_mod(int operation, const char *type, size_t count) {
    LDAPMod *mod = calloc(1, sizeof(LDAPMod));
    if (mod == NULL) return NULL;
    mod->mod_op = operation | LDAP_MOD_BVALUES;
    mod->mod_type = strdup(type);
    mod->mod_bvalues = calloc(count + 1, sizeof(struct berval *));
    return mod;
}

/// Sets value `index` of a mod made by charter_ldap_mod (the bytes are copied).
static inline int charter_ldap_mod_set_value(LDAPMod *mod, size_t index, const void *bytes, size_t length) {
    struct berval *value = malloc(sizeof(struct berval));
    if (value == NULL) return LDAP_NO_MEMORY;
    value->bv_len = length;
    value->bv_val = malloc(length + 1);
    if (value->bv_val == NULL) {
        free(value);
        return LDAP_NO_MEMORY;
    }
    if (length > 0) memcpy(value->bv_val, bytes, length);
    value->bv_val[length] = 0;
    mod->mod_bvalues[index] = value;
    return LDAP_SUCCESS;
}

/// Frees a NULL-terminated array of mods made by charter_ldap_mod, and the array.
static inline void charter_ldap_mods_free(LDAPMod **mods) {
    ldap_mods_free(mods, 1);
}

/// A zeroed, NULL-terminated array for `count` mods, freed by charter_ldap_mods_free.
static inline LDAPMod **charter_ldap_mods_alloc(size_t count) {
    return calloc(count + 1, sizeof(LDAPMod *));
}
