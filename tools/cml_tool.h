/* cml_tool.h — subcommands of the `cml` harness, one file each. Each takes
 * the arguments after its name and returns the process exit status
 * (0 ok, 1 failure, 2 usage error). What they share around a model is in
 * cml_io.h. */
#ifndef CML_TOOL_H
#define CML_TOOL_H

int cml_cmd_demo(int argc, char **argv);
int cml_cmd_info(int argc, char **argv);    /* cml_info.c */
int cml_cmd_predict(int argc, char **argv); /* cml_predict.c */
int cml_cmd_keygen(int argc, char **argv);  /* cml_keygen.c */
int cml_cmd_encrypt(int argc, char **argv); /* cml_encrypt.c */
int cml_cmd_run(int argc, char **argv);     /* cml_run.c */
int cml_cmd_decrypt(int argc, char **argv); /* cml_decrypt.c */
int cml_cmd_serve(int argc, char **argv);   /* cml_serve.c */
int cml_cmd_client(int argc, char **argv);  /* cml_client.c */

#endif
